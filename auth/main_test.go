package auth

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a time the test sets, safe to move while requests run.
type clock struct{ unix atomic.Int64 }

func newClock(unix int64) *clock {
	c := &clock{}
	c.unix.Store(unix)
	return c
}

func (c *clock) now() time.Time { return time.Unix(c.unix.Load(), 0) }
func (c *clock) set(unix int64) { c.unix.Store(unix) }

// warnings records what a Guard logs.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) Warn(source, msg string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, fmt.Sprint(source, " ", msg, " ", args))
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

func newGuard(t *testing.T, cfg Config, now *clock) *Guard {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		g.now = now.now
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// backend stands for the server's play routes: live streams that flow
// until the viewer leaves, VOD files answered at once. Each response starts
// with the path the handler saw.
func backend() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live/{file}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "path %s\n", r.URL.Path)
		rc := http.NewResponseController(w)
		rc.Flush()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if _, err := io.WriteString(w, "tick\n"); err != nil {
					return
				}
				rc.Flush()
			}
		}
	})
	mux.HandleFunc("GET /vod/{path...}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "path %s\n", r.URL.Path)
	})
	return mux
}

// server runs g.Play around the backend on loopback.
type server struct {
	*httptest.Server
	client *http.Client
}

func newServer(t *testing.T, g *Guard) *server {
	t.Helper()
	srv := httptest.NewServer(g.Play(backend()))
	s := &server{Server: srv, client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		srv.Close()
	})
	return s
}

// response is a status and the first line of the body; body stays open for
// a live stream until the test ends or closes it.
type response struct {
	status int
	line   string
	header http.Header
	body   io.ReadCloser
	lines  *bufio.Reader
}

func (s *server) get(t *testing.T, path string, header ...string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	r := &response{status: resp.StatusCode, header: resp.Header, body: resp.Body, lines: bufio.NewReader(resp.Body)}
	r.line, _ = r.lines.ReadString('\n')
	r.line = strings.TrimSuffix(r.line, "\n")
	return r
}

// flowing checks that a live response still delivers.
func (r *response) flowing(t *testing.T) {
	t.Helper()
	for range 3 {
		line, err := r.lines.ReadString('\n')
		if err != nil || line != "tick\n" {
			t.Fatalf("live response stopped: %q %v", line, err)
		}
	}
}
