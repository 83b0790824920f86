package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/relay"
)

func newGuardedServer(t *testing.T, cfg auth.Config) *testServer {
	t.Helper()
	g, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hub := relay.NewHub(relay.Config{})
	s := &testServer{t: t, hub: hub, srv: httptest.NewServer(NewGuardedHandler(&Live{Hub: hub}, g, CORS{}))}
	t.Cleanup(func() {
		hub.Close()
		s.srv.Close()
		g.Close()
	})
	return s
}

func TestGuardedLive(t *testing.T) {
	rule := auth.TokenRule{Secrets: []string{"s3cret"}}
	var cfg auth.Config
	cfg.SetRootToken(rule)
	s := newGuardedServer(t, cfg)
	s.publish("live", "a")
	s.gop(2)
	signed, err := rule.Sign("/live/a.flv", time.Now().Add(time.Hour), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}

	resp := s.get(t, "/live/a.flv", "Origin", "https://player.example")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("without a token: %d, CORS %q; want 403 that the player can read", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	for _, path := range []string{signed.URL(), signed.InPath(), signed.InPath() + "?only_audio=1"} {
		resp := s.get(t, path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/x-flv" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		readTags(t, resp.Body, 2)
	}
	other, _ := rule.Sign("/live/none.flv", time.Now().Add(time.Hour), netip.Addr{})
	if resp := s.get(t, other.InPath()); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown stream with a good token: %d, want 404", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodHead, s.srv.URL+signed.InPath(), nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD of a signed URL: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodOptions, s.srv.URL+signed.InPath(), nil)
	req.Header.Set("Origin", "https://player.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight of a signed URL: %d", resp.StatusCode)
	}
}

// TestAdmissionGivenBackWhenAHandlerAborts: a play handler that aborts its
// response (panic(http.ErrAbortHandler), which net/http recovers) gives
// its admission back like one that returns; kept, each abort would take a
// place of the path and of the client for ever.
func TestAdmissionGivenBackWhenAHandlerAborts(t *testing.T) {
	g, err := auth.New(auth.Config{Play: []auth.Scope{{Prefix: "/", MaxViewers: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	aborts := true
	h := guarded(g, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if aborts {
			panic(http.ErrAbortHandler)
		}
	}))
	serve := func() int {
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil && p != http.ErrAbortHandler {
					panic(p)
				}
			}()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/vod/a.flv", nil))
		}()
		return rec.Code
	}
	serve()
	aborts = false
	if code := serve(); code != http.StatusOK {
		t.Fatalf("after an aborted request the next one got %d, want 200: its place was kept", code)
	}
}
