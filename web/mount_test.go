package web

import (
	"context"
	"errors"
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

// goneOrigin is a source's file whose origin is gone once the answer's
// header is out: its bytes can be read (to index the file), and made
// present for the header (Ensure), but no section of it can be sent.
type goneOrigin struct{ f *os.File }

func (o goneOrigin) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }
func (o goneOrigin) Close() error                            { return nil }
func (o goneOrigin) ModTime() time.Time                      { return time.Time{} }
func (o goneOrigin) ETag() string                            { return "" }
func (o goneOrigin) Status() string                          { return "MISS" }
func (o goneOrigin) Ensure(int64) error                      { return nil }

func (o goneOrigin) Size() int64 {
	fi, err := o.f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (o goneOrigin) Section(int64, int64) (*os.File, error) { return nil, errors.New("origin gone") }

// TestShortVODAnswerOnEveryProtocol: a VOD answer whose origin fails after
// its header has gone out (its body cut in the first kilobytes, the rest
// of the file never sent) fails at the client on every protocol, never
// ends as if it were whole; over HTTP/1.1 and HTTP/2 the client gets the
// header and the bytes that were ready first, as a player needs to resume
// with a Range request. The request is counted once and gives its place in
// the client's limit back, every time.
func TestShortVODAnswerOnEveryProtocol(t *testing.T) {
	f, err := os.Open(filepath.Join(vodFile(t), "a.flv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := vod.New(vod.Config{Roots: []vod.Root{{Prefix: "/vod", Source: vod.SourceOf(func(context.Context, string) (goneOrigin, error) {
		return goneOrigin{f}, nil
	})}}})
	if err != nil {
		t.Fatal(err)
	}
	// One open request per client: a request that kept its place would
	// have the next refused.
	g, err := auth.New(auth.Config{Limits: auth.Limits{MaxConnsPerClient: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s := newSite(t, nil)
	reg := prometheus.NewRegistry()
	s.srv.Reload(NewMetrics(reg, s.hub, 10).CountRequests(NewGuardedHandler(s.live, g, CORS{}, Mount{Prefix: "/vod", Handler: h})), nil)
	label := map[string]string{"HTTP/1.1": "2xx http1", "HTTP/2.0": "2xx h2", "HTTP/3.0": "2xx h3"}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0", "HTTP/3.0"} {
		url := "https://" + s.srv.HTTPSAddr().String() + "/vod/a.flv"
		if proto == "HTTP/1.1" {
			url = "http://" + s.srv.HTTPAddr().String() + "/vod/a.flv"
		}
		for i := range 2 {
			resp, err := s.clients[proto].Get(url)
			if err == nil {
				var body []byte
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Proto != proto {
					t.Fatalf("%s: %s over %s", proto, resp.Status, resp.Proto)
				}
				// The Go clients see a short end themselves (unexpected
				// EOF); a browser may not: HTTP/2 and HTTP/3 must reset.
				if err == nil || proto != "HTTP/1.1" && errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%s: the body ended after %d of %d bytes: %v", proto, len(body), resp.ContentLength, err)
				}
				if int64(len(body)) >= resp.ContentLength || !strings.HasPrefix(string(body), "FLV") {
					t.Fatalf("%s: %d bytes of %d, starting %q", proto, len(body), resp.ContentLength, body[:min(len(body), 3)])
				}
			} else if proto != "HTTP/3.0" {
				// HTTP/3's reset may overtake the header.
				t.Fatalf("%s: no answer: %v", proto, err)
			}
			if n := requestsByProto(t, reg)[label[proto]]; n != float64(i+1) {
				t.Fatalf("%s: %v requests counted after %d", proto, n, i+1)
			}
		}
	}
}
