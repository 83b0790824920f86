//go:build e2e

package app

import (
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
)

// publishRefused waits for an ffmpeg publisher to give up.
func publishRefused(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("ffmpeg exited successfully, want a refusal")
		}
	case <-time.After(time.Minute): // generous: a condition, not a timing
		t.Fatal("ffmpeg still publishing, want a refusal")
	}
}

func TestPublishKeysWithFFmpeg(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) {
		c.Access.Publish = []config.AccessPublish{{
			App:   "live",
			Keys:  []string{"right"},
			Token: &config.AccessToken{Scheme: "md5", Secrets: []string{"pubsecret"}},
		}}
	})
	publishRefused(t, publishFFmpeg(t, s.rtmpURL("cam1?key=wrong")))
	publishRefused(t, publishFFmpeg(t, s.rtmpURL("cam1")))
	if logs := s.log.String(); !strings.Contains(logs, "rtmp publish refused") || !strings.Contains(logs, "Unauthorized") ||
		!strings.Contains(logs, string(auth.KeyInvalid)) {
		t.Fatalf("log lacks the refusal and its reason:\n%s", logs)
	}
	if resp, err := http.Head(s.playURL("cam1")); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("refused stream: %v %v", resp, err)
	}

	publishFFmpeg(t, s.rtmpURL("cam1?key=right"))
	waitStream(t, s.playURL("cam1"))

	rule := auth.TokenRule{Secrets: []string{"pubsecret"}}
	signed, err := rule.Sign("/live/cam2", time.Now().Add(time.Minute), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	publishFFmpeg(t, s.rtmpURL("cam2?"+signed.Query()))
	waitStream(t, s.playURL("cam2"))

	_, publish := s.guard.Refusals()
	if publish[auth.KeyInvalid] != 2 {
		t.Fatalf("publish refusals %v", publish)
	}
}
