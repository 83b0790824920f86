package app

import (
	"context"
	"errors"
	"net"
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

// publishStatus publishes stream on a connection from localIP with a
// minimal client of its own (the package's Client cannot pick its
// address) and returns the code of the server's answer.
func publishStatus(t *testing.T, s *testServer, localIP, stream string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", s.rtmpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	handshake(t, c)
	cw, cr := rtmp.NewChunkWriter(c), rtmp.NewChunkReader(c, 0)
	for _, cmd := range [][]any{
		{"connect", 1, flv.Object{{Key: "app", Value: "live"}}},
		{"createStream", 2, nil},
		{"publish", 3, nil, stream, "live"},
	} {
		p, err := flv.AppendAMF0(nil, cmd...)
		if err != nil {
			t.Fatal(err)
		}
		cw.WriteMessage(rtmp.Message{CSID: 3, Type: rtmp.TypeCommandAMF0, StreamID: 1, Payload: p})
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := cr.ReadMessage()
		if err != nil {
			t.Fatalf("no onStatus: %v", err)
		}
		if m.Type != rtmp.TypeCommandAMF0 {
			continue
		}
		vals, err := flv.DecodeAMF0(m.Payload)
		if err != nil || len(vals) < 4 || vals[0] != "onStatus" {
			continue
		}
		info, _ := vals[3].(flv.Object)
		code, _ := info.Get("code")
		s, _ := code.(string)
		return s
	}
}

// On an app without publish rules a publisher is known by its address:
// from another one it is refused while the viewers wait.
func TestGracePeriodOnAnOpenAppHeldForTheSameAddress(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) { c.Publish.Grace = time.Minute })
	first, err := publishRTMP(t, s.rtmpURL("open")) // from 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	waitStream(t, s.playURL("open"))
	first.Close()
	waitLog(t, s.log, "rtmp publish stop")
	if code := publishStatus(t, s, "127.0.0.2", "open"); code != "NetStream.Publish.BadName" {
		t.Fatalf("from another address in the grace period: %q, want refused", code)
	}
	waitLog(t, s.log, "waiting for its publisher to come back")
	if code := publishStatus(t, s, "127.0.0.1", "open"); code != "NetStream.Publish.Start" {
		t.Fatalf("from the same address: %q", code)
	}
}
