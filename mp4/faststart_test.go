//go:build e2e

package mp4

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFaststart moves the moov of a file that ffmpeg wrote with the moov
// at the end and compares the result with what ffmpeg's own +faststart
// writes from the same input (both remuxes of av.mp4 by the same ffmpeg,
// so that their moov boxes differ only in chunk offsets): the bytes must
// be identical, and so the decoded frames.
func TestFaststart(t *testing.T) {
	f, src := parseFixture(t, fixAVRemux)
	if !f.NeedsFaststart() {
		t.Fatal("ffmpeg wrote the moov of av-remux.mp4 first")
	}
	l, err := f.Faststart()
	if err != nil {
		t.Fatal(err)
	}
	got := readLayout(t, l, src)
	want, err := os.ReadFile(fixture(t, fixAVFast))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("faststart gives %d bytes, ffmpeg %d; first difference at %d", len(got), len(want), i)
	}
	path := filepath.Join(t.TempDir(), "fast.mp4")
	if err := os.WriteFile(path, got, 0o644); err != nil {
		t.Fatal(err)
	}
	g, w := decode(t, path), decodeFixture(t, fixAVRemux)
	for typ := range w {
		if len(g[typ]) != len(w[typ]) {
			t.Fatalf("%d %s frames, want %d", len(g[typ]), typ, len(w[typ]))
		}
		for i := range w[typ] {
			if g[typ][i] != w[typ][i] {
				t.Fatalf("%s frame %d: %v, want %v", typ, i, g[typ][i], w[typ][i])
			}
		}
	}
}
