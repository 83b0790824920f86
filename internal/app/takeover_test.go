package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/rtmp"
)

// publishRTMP publishes url with the package's own client and sends a
// sequence header and a keyframe.
func publishRTMP(t *testing.T, url string) (*rtmp.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	c.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}})
	c.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}})
	return c, nil
}

// A publisher that left leaves its viewers waiting for it: another holder
// of an app-wide key, or anyone on an open app, is refused until the grace
// period ends, and the one that left comes back to the same responses.
func TestGracePeriodHeldForThePublisherThatLeft(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) {
		c.Publish.Grace = time.Minute // the test ends long before
		c.Access.Publish = []config.AccessPublish{{App: "live", Keys: []string{"key-a", "key-b"}}}
	})
	first, err := publishRTMP(t, s.rtmpURL("cam?key=key-a"))
	if err != nil {
		t.Fatal(err)
	}
	waitStream(t, s.playURL("cam"))
	v := watch(t, s.playURL("cam"))
	v.waitTags(t, 2)
	first.Close()
	waitLog(t, s.log, "rtmp publish stop")

	_, err = publishRTMP(t, s.rtmpURL("cam?key=key-b"))
	var se *rtmp.StatusError
	if !errors.As(err, &se) || !strings.Contains(se.Description, "waiting for its publisher") {
		t.Fatalf("another key in the grace period: %v, want refused", err)
	}
	if _, err := publishRTMP(t, s.rtmpURL("cam")); err == nil {
		t.Fatal("no key in the grace period: accepted")
	}
	if _, err := publishRTMP(t, s.rtmpURL("cam?key=key-a")); err != nil {
		t.Fatalf("the same key back in the grace period: %v", err)
	}
	v.waitTags(t, 4) // the same response goes on
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		t.Fatalf("the viewer's response ended: %v", v.err)
	}
}
