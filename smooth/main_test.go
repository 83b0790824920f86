package smooth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/vod"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(testutil.Main(m, fixtures))
}

// The fixtures: two renditions of the same eight seconds (a 320x240 and a
// 192x144 H.264 test pattern at 25 fps, main profile with B-frames, a
// keyframe every second; a 440 Hz AAC-LC tone), as an encoder ladder
// writes them, and six seconds of the first alone.
const (
	ssHigh   = "ss-high.mp4"
	ssLow    = "ss-low.mp4"
	ssSingle = "ss-single.mp4"
)

func ladder(size, rate, seconds string) []string {
	return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "2", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-b:v", rate, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-t", seconds}
}

// fixtures makes them; its Dir is set by TestMain.
var fixtures = &testutil.Fixtures{Args: map[string][]string{
	ssHigh:   ladder("320x240", "500k", "8"),
	ssLow:    ladder("192x144", "150k", "8"),
	ssSingle: ladder("320x240", "500k", "6"),
}}

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
