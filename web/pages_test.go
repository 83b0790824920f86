package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/relay"
)

// newPagesServer is newTestServer with the pages in front.
func newPagesServer(t *testing.T, p Pages) *testServer {
	t.Helper()
	hub := relay.NewHub(relay.Config{})
	p.Hub = hub
	s := &testServer{t: t, hub: hub, srv: httptest.NewServer(WithPages(NewHandler(&Live{Hub: hub}), p))}
	t.Cleanup(func() {
		hub.Close()
		s.srv.Close()
	})
	return s
}

func TestPagesBesideLive(t *testing.T) {
	s := newPagesServer(t, Pages{Player: true, StreamList: true, MpegtsURL: "https://cdn.example/mpegts.js"})
	s.publish("live", "a")
	s.publish("player", "b")
	for _, path := range []string{"/", "/player", "/player?url=%2Flive%2Fa.flv&only_audio=1"} {
		resp := s.get(t, path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "/player/player.js") {
			t.Errorf("%s: %d, not the page", path, resp.StatusCode)
		}
	}
	if resp := s.get(t, "/player/player.js"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("player.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The page takes only its own files from /player/: an app of that
	// name still plays, and the rest is the play routes' 404.
	if resp := s.get(t, "/player/b.flv"); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Errorf("/player/b.flv: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp := s.get(t, "/player/nothing.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/player/nothing.js: %d", resp.StatusCode)
	}
	if resp := s.get(t, "/live/a.flv"); resp.StatusCode != http.StatusOK {
		t.Errorf("live: %d", resp.StatusCode)
	}
}

// TestLiveAndFileTellApartByHead: the page asks HEAD whether a URL is live:
// a live stream answers without a length, a file with one.
func TestLiveAndFileTellApartByHead(t *testing.T) {
	s := newVODTestServer(t, nil)
	s.publish("live", "a")
	for path, live := range map[string]bool{"/live/a.flv": true, "/vod/a.flv": false} {
		resp, err := http.Head(s.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if _, has := resp.Header["Content-Length"]; resp.StatusCode != http.StatusOK || has == live {
			t.Errorf("HEAD %s: %d, Content-Length %q", path, resp.StatusCode, resp.Header.Get("Content-Length"))
		}
	}
}

func TestPublicStreamList(t *testing.T) {
	s := newPagesServer(t, Pages{StreamList: true})
	s.publish("live", "a~b")
	s.gop(2)
	resp := s.get(t, "/api/streams", "Origin", "https://elsewhere.example")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%d, CORS %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	var list []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%v", list)
	}
	got := list[0]
	if got["app"] != "live" || got["stream"] != "a~b" || got["path"] != "/live/a~b.flv" || got["live"] != true || got["video_codec"] != "avc1" {
		t.Fatalf("%v", got)
	}
	// Only what a player needs: nothing about viewers, traffic or origins.
	for key := range got {
		switch key {
		case "app", "stream", "path", "live", "video_codec", "audio_codec", "width", "height":
		default:
			t.Errorf("the public list tells %s", key)
		}
	}
	// The player page is off: / is the play routes' again.
	if resp := s.get(t, "/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/ without the player: %d", resp.StatusCode)
	}
}

func TestPublicStreamListHidesTokenStreams(t *testing.T) {
	var cfg auth.Config
	cfg.Play = []auth.Scope{{Prefix: "/private/", Token: &auth.TokenRule{Secrets: []string{"s3cret"}}}}
	g, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	s := newPagesServer(t, Pages{StreamList: true, Guard: g})
	s.publish("live", "open")
	s.publish("private", "hidden")
	var list []PublicStream
	if err := json.NewDecoder(s.get(t, "/api/streams").Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Path != "/live/open.flv" {
		t.Fatalf("public list %+v, want /live/open.flv alone", list)
	}
}

func TestPagesOff(t *testing.T) {
	s := newPagesServer(t, Pages{})
	s.publish("api", "streams")
	for _, path := range []string{"/", "/player", "/player/player.js", "/api/streams"} {
		if resp := s.get(t, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}
