// Package testutil holds what the project's tests share: a buffer that
// goroutines may write logs to, and the lookup of real peers (ffmpeg,
// GStreamer) that fails instead of skipping when a peer is missing.
package testutil

import (
	"bytes"
	"os/exec"
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
