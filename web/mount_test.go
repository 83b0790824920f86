package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/vod"
)

// vodFile writes a small FLV file without a keyframe index and returns
// its directory.
func vodFile(t *testing.T) string {
	t.Helper()
	b := flv.AppendHeader(nil, true, true)
	b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Data: avcConfig})
	b = flv.AppendTag(b, flv.Tag{Type: flv.TagAudio, Data: aacConfig})
	for i := range 50 {
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Timestamp: uint32(40 * i), Data: frame(i%25 == 0, byte(i))})
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagAudio, Timestamp: uint32(40 * i), Data: []byte{0xaf, 0x01, byte(i)}})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.flv"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newVODTestServer(t *testing.T, guard *auth.Guard) *testServer {
	t.Helper()
	h, err := vod.New(vod.Config{Roots: []vod.Root{{Prefix: "/vod", Dir: vodFile(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	hub := relay.NewHub(relay.Config{})
	s := &testServer{t: t, hub: hub, srv: httptest.NewServer(NewGuardedHandler(&Live{Hub: hub}, guard, CORS{}, Mount{Prefix: "/vod", Handler: h}))}
	t.Cleanup(func() {
		hub.Close()
		s.srv.Close()
	})
	return s
}

// TestVODBesideLive: a VOD root is served under its prefix with the CORS
// headers and preflight players need, and live streams keep their routes,
// other apps included.
func TestVODBesideLive(t *testing.T) {
	s := newVODTestServer(t, nil)
	resp := s.get(t, "/vod/a.flv", "Origin", "https://player.example", "Range", "bytes=0-99")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || len(body) != 100 || string(body[:3]) != "FLV" ||
		resp.Header.Get("Content-Type") != "video/x-flv" || !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes 0-99/") {
		t.Fatalf("VOD range: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Range") ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Length") {
		t.Fatalf("VOD CORS: %v", resp.Header)
	}
	req, _ := http.NewRequest(http.MethodOptions, s.srv.URL+"/vod/a.flv", nil)
	req.Header.Set("Origin", "https://player.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "range")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "range") {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
	if resp := s.get(t, "/vod/none.flv"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing file: %d", resp.StatusCode)
	}
	if resp := s.get(t, "/vod/../a.flv"); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("traversal: %d", resp.StatusCode)
	}
	// Live routes, under another app and under an app whose name starts
	// like the prefix.
	s.publish("live", "a")
	s.gop(2)
	resp = s.get(t, "/live/a.flv")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache, no-store" {
		t.Fatalf("live: %d", resp.StatusCode)
	}
	readTags(t, resp.Body, 3)
	s.publish("vodcast", "b")
	s.gop(1)
	resp = s.get(t, "/vodcast/b.flv")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live app vodcast: %d", resp.StatusCode)
	}
	readTags(t, resp.Body, 3)
}

// TestGuardedVOD: the access rules apply to VOD as to live, tokens in the
// query and in the path alike.
func TestGuardedVOD(t *testing.T) {
	rule := auth.TokenRule{Secrets: []string{"s3cret"}}
	var cfg auth.Config
	cfg.SetRootToken(rule)
	g, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	s := newVODTestServer(t, g)
	if resp := s.get(t, "/vod/a.flv", "Origin", "https://player.example"); resp.StatusCode != http.StatusForbidden ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	signed, err := rule.Sign("/vod/a.flv", time.Now().Add(time.Hour), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{signed.URL(), signed.InPath()} {
		resp := s.get(t, path, "Range", "bytes=0-2")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusPartialContent || string(body) != "FLV" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
}

// TestVODKeepsSendfileBehindMetrics: the writer a mount gets through the
// request counter still offers io.ReaderFrom, which is how
// http.ServeContent reaches sendfile.
func TestVODKeepsSendfileBehindMetrics(t *testing.T) {
	hub := relay.NewHub(relay.Config{})
	defer hub.Close()
	m := NewMetrics(prometheus.NewRegistry(), hub, 10)
	var ok bool
	probe := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok = w.(io.ReaderFrom)
	})
	h := m.CountRequests(NewGuardedHandler(&Live{Hub: hub}, nil, CORS{}, Mount{Prefix: "/vod", Handler: probe}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/vod/a.flv", nil))
	if !ok {
		t.Fatal("the mount's writer hides io.ReaderFrom")
	}
}
