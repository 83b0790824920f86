package mp4

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flvedge/flvedge/vfile"
)

// TestClipLayout reads a clip's virtual file in pieces, as Range requests
// do, and compares every piece with the whole. (Package vfile tests its
// Reader's seeking and errors.)
func TestClipLayout(t *testing.T) {
	f, src := parseFixture(t, fixBFrames)
	l, err := f.Clip(1700*time.Millisecond, 3900*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	whole := readLayout(t, l, src)
	var sum int64
	for i, p := range l.Parts() {
		if p.Off != sum || p.Len <= 0 || (p.Mem != nil && int64(len(p.Mem)) != p.Len) {
			t.Fatalf("part %d: %+v after %d bytes", i, p, sum)
		}
		sum += p.Len
	}
	if sum != l.Size() {
		t.Fatalf("parts of %d bytes in a layout of %d", sum, l.Size())
	}
	r := vfile.NewReader(l, src)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		off := rng.Int64N(l.Size())
		buf := make([]byte, rng.IntN(100000))
		n, err := r.ReadAt(buf, off)
		want := whole[off:min(off+int64(len(buf)), l.Size())]
		if n != len(want) || !bytes.Equal(buf[:n], want) || (n < len(buf)) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d bytes, %d): %d, %v", len(buf), off, n, err)
		}
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.LimitReader(r, int64(len(buf))))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Seek(%d) and Read %d bytes: %d, %v", off, len(buf), len(got), err)
		}
		p, ok := l.At(off)
		if !ok || p.Off != off || (p.Mem != nil && p.Mem[0] != whole[off]) {
			t.Fatalf("At(%d) = %+v", off, p)
		}
	}
}

// TestFaststartInPlace checks that a file whose moov is first is laid out
// as stored.
func TestFaststartInPlace(t *testing.T) {
	f, _ := parseFixture(t, fixAVFast)
	if f.NeedsFaststart() {
		t.Fatal("av-fast.mp4 needs faststart")
	}
	l, err := f.Faststart()
	if err != nil {
		t.Fatal(err)
	}
	if p := l.Parts(); len(p) != 1 || p[0].Mem != nil || p[0].Src != 0 || p[0].Len != f.Size {
		t.Fatalf("parts %+v, want the whole stored file", p)
	}
}
