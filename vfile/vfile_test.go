package vfile

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// upper is an Editor that upper-cases the letters of its range and counts
// its calls.
type upper struct{ calls int }

func (u *upper) Edit(_ io.ReaderAt, p []byte, _ int64) error {
	u.calls++
	copy(p, bytes.ToUpper(p))
	return nil
}

// testLayout lays out "head", stored bytes 10-29, "mid", stored bytes
// 30-39 (joined to the range before), stored 50-59 edited to upper case,
// and stored 60-64; and returns what reading it gives.
func testLayout(src []byte, e Editor) (*Layout, []byte) {
	l := &Layout{}
	l.AddMem([]byte("head"))
	l.AddFile(10, 20)
	l.AddFile(30, 10)
	l.AddMem(nil)
	l.AddFile(70, 0)
	l.AddMem([]byte("mid"))
	l.AddEdited(50, 10, e)
	l.AddFile(60, 5)
	want := []byte("head")
	want = append(want, src[10:40]...)
	want = append(want, "mid"...)
	want = append(want, bytes.ToUpper(src[50:60])...)
	want = append(want, src[60:65]...)
	return l, want
}

func testSource() []byte {
	return []byte("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz")
}

// TestLayout: parts are laid out in order, a stored range that continues
// the one before joins it (not an edited one, nor after memory), empty
// additions add nothing, and At and Stored map offsets.
func TestLayout(t *testing.T) {
	src := testSource()
	l, want := testLayout(src, &upper{})
	parts := l.Parts()
	if len(parts) != 5 || l.Size() != int64(len(want)) {
		t.Fatalf("%d parts, size %d: %+v", len(parts), l.Size(), parts)
	}
	if p := parts[1]; p.Off != 4 || p.Len != 30 || p.Src != 10 || p.Mem != nil {
		t.Fatalf("joined stored part %+v", p)
	}
	if p := parts[3]; p.Edit == nil || p.Src != 50 || p.Len != 10 {
		t.Fatalf("edited part %+v", p)
	}
	if p := parts[4]; p.Edit != nil || p.Src != 60 || p.Off != 47 {
		t.Fatalf("stored part after an edited one %+v", p)
	}
	if p, ok := l.At(2); !ok || string(p.Mem) != "ad" || p.Off != 2 || p.Len != 2 {
		t.Fatalf("At(2) = %+v, %t", p, ok)
	}
	if p, ok := l.At(6); !ok || p.Src != 12 || p.Len != 28 {
		t.Fatalf("At(6) = %+v, %t", p, ok)
	}
	if _, ok := l.At(l.Size()); ok {
		t.Fatal("At(Size) exists")
	}
	for _, c := range []struct {
		off, src int64
		ok       bool
	}{{0, 10, true}, {3, 10, true}, {4, 10, true}, {33, 39, true}, {34, 50, true}, {44, 57, true}, {47, 60, true}, {51, 64, true}, {-1, 0, false}, {l.Size(), 0, false}} {
		if src, ok := l.Stored(c.off); src != c.src || ok != c.ok {
			t.Errorf("Stored(%d) = %d, %t; want %d, %t", c.off, src, ok, c.src, c.ok)
		}
	}
	only := &Layout{}
	only.AddMem([]byte("x"))
	if _, ok := only.Stored(0); ok {
		t.Error("Stored in a layout of memory alone")
	}

	// A place reserved, then filled.
	r := &Layout{}
	r.AddMem(make([]byte, 3))
	r.AddFile(0, 2)
	r.SetMem(0, []byte("abc"))
	if got, _ := io.ReadAll(NewReader(r, bytes.NewReader(src))); string(got) != "abcab" {
		t.Fatalf("filled place: %q", got)
	}
}

// TestSetMemOfOtherLength: filling a reserved place with bytes of another
// length would shift every part after it, and is refused.
func TestSetMemOfOtherLength(t *testing.T) {
	l := &Layout{}
	l.AddMem(make([]byte, 3))
	defer func() {
		if recover() == nil {
			t.Fatal("SetMem of 2 bytes in a part of 3 was taken")
		}
	}()
	l.SetMem(0, []byte("ab"))
}

// TestReader reads a layout in random pieces with ReadAt and with Seek and
// Read, as Range requests do, and compares every piece with the whole.
func TestReader(t *testing.T) {
	src := testSource()
	e := &upper{}
	l, whole := testLayout(src, e)
	r := NewReader(l, bytes.NewReader(src))
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("ReadAll: %q, %v; want %q", got, err, whole)
	}
	if e.calls == 0 {
		t.Fatal("the editor was not called")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		off := rng.Int64N(l.Size())
		buf := make([]byte, rng.IntN(int(l.Size())+10))
		n, err := r.ReadAt(buf, off)
		want := whole[off:min(off+int64(len(buf)), l.Size())]
		if n != len(want) || !bytes.Equal(buf[:n], want) || (n < len(buf)) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d bytes, %d): %d, %v", len(buf), off, n, err)
		}
		if _, err := r.Seek(off, io.SeekStart); err != nil || r.Offset() != off {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.LimitReader(r, int64(len(buf))))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Seek(%d) and Read %d bytes: %d, %v", off, len(buf), len(got), err)
		}
	}
	if pos, err := r.Seek(-10, io.SeekEnd); err != nil || pos != l.Size()-10 {
		t.Fatalf("Seek(-10, end) = %d, %v", pos, err)
	}
	if pos, err := r.Seek(4, io.SeekCurrent); err != nil || pos != l.Size()-6 || r.Size() != l.Size() || r.Layout() != l {
		t.Fatalf("Seek(4, current) = %d, %v", pos, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to -1 succeeded")
	}
	if _, err := r.Seek(0, 7); err == nil {
		t.Error("Seek with whence 7 succeeded")
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt -1 succeeded")
	}
	if n, err := r.ReadAt(make([]byte, 1), l.Size()); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(Size) = %d, %v", n, err)
	}
}

type failing struct{}

var errEdit = errors.New("the stored bytes changed")

func (failing) Edit(io.ReaderAt, []byte, int64) error { return errEdit }

// TestReaderErrors: a stored file that shrank since the layout was made
// and an editor's error end the read with that error.
func TestReaderErrors(t *testing.T) {
	src := testSource()
	l, whole := testLayout(src, &upper{})
	n, err := NewReader(l, bytes.NewReader(src[:20])).ReadAt(make([]byte, l.Size()), 0)
	if !errors.Is(err, io.ErrUnexpectedEOF) || n != 14 {
		t.Errorf("reading from a shrunk file: %d bytes, %v", n, err)
	}
	l, _ = testLayout(src, failing{})
	buf := make([]byte, l.Size())
	n, err = NewReader(l, bytes.NewReader(src)).ReadAt(buf, 0)
	if !errors.Is(err, errEdit) || n != 37 || !bytes.Equal(buf[:n], whole[:n]) {
		t.Errorf("reading through a failing editor: %d bytes, %v", n, err)
	}
}
