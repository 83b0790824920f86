package app

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
)

// TestLiveViewerOutlivesItsToken: a token is checked when a request starts,
// so a viewer whose token expires while it watches keeps watching; a new
// request with the same URL is refused.
func TestLiveViewerOutlivesItsToken(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) { c.Access.SecureTokenSecrets = []string{"s3cret"} })
	rule := auth.TokenRule{Secrets: []string{"s3cret"}}
	sign := func(expires time.Time) string {
		t.Helper()
		signed, err := rule.Sign("/live/demo.flv", expires, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		return s.baseURL() + signed.URL()
	}
	startDemoAt(t, s, sign(time.Now().Add(time.Hour)))
	if resp, err := http.Head(s.playURL("demo")); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without a token: %v %v", resp, err)
	}
	// A token that expires soon, so that the test need not wait long. On a
	// loaded machine the request may come after the expiry: then it is
	// refused and tried again with a new token that lives longer.
	var v *viewer
	var url string
	for life := 2 * time.Second; v == nil; life *= 2 {
		if life > time.Minute {
			t.Fatal("no request came before its token expired")
		}
		url = sign(time.Now().Add(life))
		v = watchIfAdmitted(t, url)
	}
	v.waitTags(t, 10)
	// The expiry as the server sees it: a new request is refused.
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for status := 0; status != http.StatusGone; {
		if time.Now().After(deadline) {
			t.Fatalf("new request after expiry: %d, want 410", status)
		}
		time.Sleep(100 * time.Millisecond)
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		status = resp.StatusCode
		if status != http.StatusOK && status != http.StatusGone {
			t.Fatalf("new request with the token: %d, want 200 or 410", status)
		}
	}
	before := v.count()
	v.waitTags(t, before+20)
}

// TestLimitsSpareViewers: viewers past the limits are refused with 429 and
// 503, and the viewers already watching do not notice. The test client
// plays several clients through X-Forwarded-For from a trusted proxy.
func TestLimitsSpareViewers(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) {
		c.Access.TrustedProxies = []string{"127.0.0.1"}
		c.Access.Limits.MaxConnections = 2
		c.Access.Play = []config.AccessPlay{{Path: "/live/", MaxViewers: 3}}
	})
	url := s.playURL("demo")
	startDemoAt(t, s, url)
	viewers := []*viewer{watchAs(t, url, "192.0.2.1"), watchAs(t, url, "192.0.2.1"), watchAs(t, url, "192.0.2.2")}
	for _, v := range viewers {
		v.waitTags(t, 5)
	}
	if got := statusAs(t, url, "192.0.2.1"); got != http.StatusTooManyRequests {
		t.Fatalf("a client's third request: %d, want 429", got)
	}
	if got := statusAs(t, url, "192.0.2.3"); got != http.StatusServiceUnavailable {
		t.Fatalf("the stream's fourth viewer: %d, want 503", got)
	}
	for _, v := range viewers {
		v.waitTags(t, v.count()+20)
	}
	play, _ := s.guard.Refusals()
	if play[auth.ClientBusy] != 1 || play[auth.StreamFull] != 1 {
		t.Fatalf("refusals %v", play)
	}
}

// startDemoAt runs the demo stream and waits until url plays it.
func startDemoAt(t *testing.T, s *testServer, url string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runDemo(ctx, s.hub, s.logger)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitStream(t, url)
}

// watchAs is watch for a client behind a proxy.
func watchAs(t *testing.T, url, client string) *viewer {
	t.Helper()
	return watch(t, url, "X-Forwarded-For", client)
}

// statusAs is the status of a GET by a client behind a proxy.
func statusAs(t *testing.T, url, client string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", client)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
