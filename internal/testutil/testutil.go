// Package testutil holds what the project's tests share: a buffer that
// goroutines may write logs to, the lookup of real peers (ffmpeg,
// GStreamer) that fails instead of skipping when a peer is missing, and
// media fixtures made with ffmpeg.
package testutil

import (
	"bytes"
	"fmt"
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

// RequireTool returns the path of a program the test needs. A missing one
// fails the test: a test that skipped would pass without testing anything.
// debianPackages names what to install.
func RequireTool(t testing.TB, name, debianPackages string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed by this test and was not found: apt-get install %s (scripts/test.sh installs it)", name, debianPackages)
	}
	return path
}

// Fixtures makes the media files tests need with ffmpeg, each on first use
// and once per test binary, so that nothing large is committed.
type Fixtures struct {
	// Dir is where the files go; set it before use, typically to a
	// temporary directory made in TestMain.
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

// Path returns the path of fixture name, making it first if needed. A
// missing ffmpeg, or one that fails, fails the test.
func (f *Fixtures) Path(t testing.TB, name string) string {
	t.Helper()
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
