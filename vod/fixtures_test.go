package vod

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServeEnv); dir != "" {
		serveForBench(dir) // BenchmarkSeekingViewers' server process
	}
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(testutil.Main(m, fixtures, mp4Fixtures))
}

// The fixtures: ten seconds of a 320x240 H.264 test pattern at 25 fps with
// a keyframe every second and B-frames, and a 440 Hz AAC tone. ffmpeg
// writes no keyframe index unless asked to. The picture is a 96x64 pattern
// with a frame counter on black and the AAC 16 kb/s, so that the files
// committed for the unit tests stay small; long.flv, which only the
// browser plays (e2e), is the whole 320x240 pattern.
const (
	fixAV      = "av.flv"       // H.264 + AAC, no keyframe index
	fixAVIndex = "av-index.flv" // the same with ffmpeg's keyframe index
	fixAudio   = "audio.flv"    // AAC only, no index
	fixVideo   = "video.flv"    // H.264 only, no index
	fixLong    = "long.flv"     // 20 s of H.264 + AAC, no index, for the browser
)

var fixtureArgs = map[string][]string{
	fixAV: {"-f", "lavfi", "-i", "testsrc=size=96x64:rate=25,pad=320:240:112:96", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k", "-t", "10"},
	fixAVIndex: {"-i", "{av.flv}", "-c", "copy", "-flvflags", "add_keyframe_index"},
	fixAudio:   {"-i", "{av.flv}", "-c", "copy", "-vn"},
	fixVideo:   {"-i", "{av.flv}", "-c", "copy", "-an"},
	fixLong: {"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-t", "20"},
}

// fixtures makes them; its Dir is set by TestMain.
var fixtures = &testutil.Fixtures{Args: fixtureArgs, Output: []string{"-f", "flv"}}

// fixture returns the path of a fixture, making it first if needed.
func fixture(t testing.TB, name string) string {
	t.Helper()
	return fixtures.Path(t, name)
}

// readFile returns a file's bytes or fails the test.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vodServer serves a directory of fixtures at /vod through the Handler on
// loopback.
type vodServer struct {
	dir string
	h   *Handler
	srv *httptest.Server
}

// newVODServer copies the named fixtures into a fresh directory and serves it.
func newVODServer(t *testing.T, names ...string) *vodServer {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), readFile(t, fixture(t, n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return serveDir(t, dir, Config{})
}

func serveDir(t *testing.T, dir string, cfg Config) *vodServer {
	t.Helper()
	cfg.Roots = append(cfg.Roots, Root{Prefix: "/vod", Dir: dir})
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &vodServer{dir: dir, h: h, srv: httptest.NewServer(h)}
	t.Cleanup(s.srv.Close)
	return s
}

// do makes a request with headers given as name, value pairs and returns
// the response with its whole body read.
func (s *vodServer) do(t *testing.T, method, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return testutil.Do(t, s.srv.Client(), method, s.srv.URL+path, header...)
}

func (s *vodServer) get(t *testing.T, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return s.do(t, http.MethodGet, path, header...)
}

// tagAt is a tag of a served body and where it starts.
type tagAt struct {
	pos int64
	flv.Tag
}

// parseFLV reads a whole FLV body: its header and every tag, which must be
// complete.
func parseFLV(t testing.TB, b []byte) (flv.Header, []tagAt) {
	t.Helper()
	r := flv.NewReader(bytes.NewReader(b))
	h, err := r.ReadHeader()
	if err != nil {
		t.Fatalf("FLV header: %v", err)
	}
	pos := int64(h.DataOffset) + 4
	var tags []tagAt
	for {
		tag, err := r.ReadTag()
		if err == io.EOF {
			return h, tags
		}
		if err != nil {
			t.Fatalf("tag %d at %d: %v", len(tags), pos, err)
		}
		tags = append(tags, tagAt{pos, tag})
		pos += int64(flv.EncodedSize(tag))
	}
}

// metaOf decodes the onMetaData of a parsed body, which must be its first tag.
func metaOf(t testing.TB, tags []tagAt) flv.ECMAArray {
	t.Helper()
	if len(tags) == 0 || tags[0].Type != flv.TagScript {
		t.Fatal("first tag is not a script tag")
	}
	name, values, err := flv.ParseScript(tags[0].Data)
	if err != nil || name != "onMetaData" || len(values) == 0 {
		t.Fatalf("onMetaData: %q %v", name, err)
	}
	m, ok := values[0].(flv.ECMAArray)
	if !ok {
		t.Fatalf("onMetaData is %T", values[0])
	}
	return m
}

// keyframesOf returns the keyframe index of an onMetaData.
func keyframesOf(t testing.TB, m flv.ECMAArray) (positions, times []float64) {
	t.Helper()
	kf, ok := m.Get("keyframes")
	if !ok {
		t.Fatal("onMetaData has no keyframes")
	}
	obj, ok := kf.(flv.Object)
	if !ok {
		t.Fatalf("keyframes is %T", kf)
	}
	num := func(key string) []float64 {
		v, _ := obj.Get(key)
		arr, ok := v.(flv.StrictArray)
		if !ok {
			t.Fatalf("keyframes.%s is %T", key, v)
		}
		out := make([]float64, len(arr))
		for i, x := range arr {
			out[i] = x.(float64)
		}
		return out
	}
	return num("filepositions"), num("times")
}

func numberOf(t testing.TB, m flv.ECMAArray, key string) float64 {
	t.Helper()
	v, ok := m.Get(key)
	f, isNum := v.(float64)
	if !ok || !isNum {
		t.Fatalf("onMetaData %s is %v (%T)", key, v, v)
	}
	return f
}

// isKeyframeType reports whether a video tag has the keyframe frame type.
func isKeyframeType(tag flv.Tag) bool {
	return tag.Type == flv.TagVideo && flv.FrameType(tag.Data) == flv.FrameTypeKey
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
