package smooth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/vod"
)

// copyFixture writes fixture name to path.
func copyFixture(t testing.TB, name, path string) {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// server serves presentations at /vod through a Handler on loopback.
type server struct {
	dir string // of a local root; "" for a source's
	h   *Handler
	srv *httptest.Server
}

// newServer serves root at /vod.
func newServer(t *testing.T, root vod.Root) *server {
	t.Helper()
	root.Prefix = "/vod"
	v, err := vod.New(vod.Config{Roots: []vod.Root{root}})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{dir: root.Dir, h: New(v)}
	s.srv = httptest.NewServer(s.h)
	t.Cleanup(s.srv.Close)
	return s
}

// newSmoothServer serves a presentation folder film.ism with both
// renditions, and a file of its own as single.mp4.
func newSmoothServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "film.ism"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFixture(t, ssHigh, filepath.Join(dir, "film.ism", "film_500k.mp4"))
	copyFixture(t, ssLow, filepath.Join(dir, "film.ism", "film_150k.mp4"))
	copyFixture(t, ssSingle, filepath.Join(dir, "single.mp4"))
	return newServer(t, vod.Root{Dir: dir})
}

// get makes a request with headers given as name, value pairs and returns
// the response with its whole body read.
func (s *server) get(t *testing.T, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return testutil.Do(t, s.srv.Client(), http.MethodGet, s.srv.URL+path, header...)
}
