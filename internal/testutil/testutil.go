// Package testutil holds what the project's tests share: a buffer that
// goroutines may write logs to, the lookup of real peers (ffmpeg,
// GStreamer, nginx, ...) that fails instead of skipping when a peer is
// missing, media fixtures, and the tags of an FLV file.
//
// The tests come in two tiers. go test ./... needs nothing but Go: its
// fixtures are small files committed under each package's testdata/. The
// end-to-end tier, go test -tags e2e ./..., runs the files tagged e2e,
// which play, publish and decode with real peers, makes every fixture
// afresh with ffmpeg, and checks that the committed ones are still what
// ffmpeg makes (Fixtures.CheckTestdata).
package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers,
// for collecting log output from servers under test.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RequireTool returns the path of a program the test needs, from PATH or
// the sbin folders that Debian puts servers in (nginx, ip) and that a
// user's PATH often lacks. A missing one fails the test: a test that
// skipped would pass without testing anything. debianPackages names what
// to install. Every test that runs a program finds it here.
func RequireTool(t testing.TB, name, debianPackages string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if path, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return path
		}
	}
	t.Fatalf("%s is needed by this test and was not found: apt-get install %s (scripts/test.sh installs it)", name, debianPackages)
	return ""
}

// Fixtures are the media files a package's tests need, each described by
// the ffmpeg arguments that make it. In the unit tier they are read from
// testdata/, where the fixtures that unit tests use are committed (small:
// a few tens of KB each); a fixture that is not there fails the test. In
// the end-to-end tier they are made afresh with ffmpeg, each on first use
// and once per test binary, and CheckTestdata compares the committed ones
// with them.
type Fixtures struct {
	// Dir is where the files made with ffmpeg go; set it before use,
	// typically to a temporary directory made in TestMain.
	Dir string
	// Args are ffmpeg's arguments for each file name, before the output
	// path. An argument "{name}" stands for the path of fixture name, which
	// is made first.
	Args map[string][]string
	// Output is put before every output path, e.g. "-f", "flv".
	Output []string

	states sync.Map // name → *fixtureState
}

type fixtureState struct {
	once sync.Once
	err  error
}

// testdata is where the committed fixtures are, relative to the package
// under test (go test runs each package's tests in its folder).
const testdata = "testdata"

// updateEnv names the environment variable that has CheckTestdata write
// the fixtures it makes into testdata/ instead of comparing them.
const updateEnv = "FLVEDGE_UPDATE_TESTDATA"

// Path returns the path of fixture name. In the unit tier that is the
// committed file; in the end-to-end tier the file made with ffmpeg, made
// first if needed. A fixture that is not committed, a missing ffmpeg or
// one that fails, fails the test.
func (f *Fixtures) Path(t testing.TB, name string) string {
	t.Helper()
	if !E2E {
		path := filepath.Join(testdata, name)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("fixture %s is not committed (%v): only the end-to-end tier (go test -tags e2e) makes it with ffmpeg; "+
				"a unit test that needs it must have it committed (%s=1 go test -tags e2e -run TestFixtures)", name, err, updateEnv)
		}
		return path
	}
	RequireTool(t, "ffmpeg", "ffmpeg")
	if err := f.make(name); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(f.Dir, name)
}

func (f *Fixtures) make(name string) error {
	args, ok := f.Args[name]
	if !ok {
		return fmt.Errorf("no fixture %q", name)
	}
	v, _ := f.states.LoadOrStore(name, new(fixtureState))
	st := v.(*fixtureState)
	st.once.Do(func() {
		cmd := []string{"-hide_banner", "-loglevel", "error", "-y"}
		for _, a := range args {
			if src, ok := strings.CutPrefix(a, "{"); ok {
				src = strings.TrimSuffix(src, "}")
				if st.err = f.make(src); st.err != nil {
					return
				}
				a = filepath.Join(f.Dir, src)
			}
			cmd = append(cmd, a)
		}
		cmd = append(append(cmd, f.Output...), filepath.Join(f.Dir, name))
		if out, err := exec.Command("ffmpeg", cmd...).CombinedOutput(); err != nil {
			st.err = fmt.Errorf("ffmpeg making %s: %v\n%s", name, err, out)
		}
	})
	return st.err
}

// CheckTestdata checks, in the end-to-end tier, that every fixture
// committed under testdata/ is still what ffmpeg makes from its arguments:
// the same streams (codec, profile, picture size, sample rate, channels)
// and the same packets (stream, pts, dts, duration, keyframe flag), as
// ffprobe reads them. It does not compare bytes: another x264 or ffmpeg
// version encodes the same pictures with other bits, which changes no
// test. With FLVEDGE_UPDATE_TESTDATA=1 it writes the fixtures listed in
// commit into testdata/ instead (the unit tests' fixtures; keep them small).
func (f *Fixtures) CheckTestdata(t *testing.T, commit ...string) {
	t.Helper()
	if !E2E {
		t.Fatal("CheckTestdata runs in the end-to-end tier (go test -tags e2e)")
	}
	if os.Getenv(updateEnv) != "" {
		if err := os.MkdirAll(testdata, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range commit {
			b, err := os.ReadFile(f.Path(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(testdata, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for _, name := range commit {
		committed := filepath.Join(testdata, name)
		if _, err := os.Stat(committed); errors.Is(err, fs.ErrNotExist) {
			t.Errorf("fixture %s is not committed: %s=1 go test -tags e2e -run TestFixtures writes it", name, updateEnv)
			continue
		}
		want, got := probeStructure(t, f.Path(t, name)), probeStructure(t, committed)
		if got != want {
			t.Errorf("testdata/%s is not what ffmpeg makes from %q (%s=1 go test -tags e2e -run TestFixtures rewrites it):\n%s",
				name, f.Args[name], updateEnv, firstDifference(got, want))
		}
	}
}

// probeStructure is what ffprobe reads of a file's streams and packets,
// without what the encoder's version changes (sizes, positions, bits).
func probeStructure(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error",
		"-show_entries", "stream=index,codec_type,codec_name,profile,width,height,pix_fmt,sample_rate,channels,has_b_frames"+
			":packet=stream_index,pts,dts,duration,flags",
		"-of", "csv", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return string(out)
}

// firstDifference shows the first line where got and want differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: committed %q, ffmpeg %q", i+1, gl, wl)
		}
	}
	return "no line differs"
}
