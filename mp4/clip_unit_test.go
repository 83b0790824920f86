//go:build !e2e

package mp4

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// clipOver4GB checks a clip of av.mp4 moved beyond 4 GiB (TestFileOver4GB)
// without a decoder: it must be byte for byte the same clip of the
// original, whose offsets start from the clip's own moov. The end-to-end
// tier decodes it instead (ffmpeg_e2e_test.go).
func clipOver4GB(t *testing.T, big *File, src *os.File) {
	t.Helper()
	small, smallSrc := parseFixture(t, fixAV)
	clip := func(f *File, src *os.File) []byte {
		l, err := f.Clip(2300*time.Millisecond, 4100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return readLayout(t, l, src)
	}
	got, want := clip(big, src), clip(small, smallSrc)
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("clip of the file over 4 GiB: %d bytes, of the original %d; first difference at %d", len(got), len(want), i)
	}
}
