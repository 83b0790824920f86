package mp4

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/flvedge/flvedge/vfile"
)

// More seeds, in Go's corpus file format, are under testdata/fuzz: tiny
// files written by ffmpeg (64x48 H.264 with B-frames and AAC, moov at the
// end and first, audio only, cut with an edit list, fragmented) and the
// sample tables of their tracks.

// The allocation bounds of the fuzz tests allow a MiB besides what is in
// proportion to the input: the count is of the whole process, and the fuzz
// engine allocates too.

// maxWalk bounds the samples a fuzz run walks: a valid table may claim
// billions of samples of a few bytes in overlapping chunks.
const maxWalk = 4096

// FuzzParse parses arbitrary files and, when they parse, cuts a clip and
// moves the moov: whatever the input, nothing panics, memory stays in
// proportion to the input, and what this package writes parses again with
// the same samples.
func FuzzParse(f *testing.F) {
	f.Add(movieFile(goodTables(table("stco", 2, be32(200, 300)))...), uint32(100), uint32(700))
	f.Add([]byte("\x00\x00\x00\x08moov"), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, startMs, endMs uint32) {
		var file *File
		var err error
		alloc := heapAllocated(func() { file, err = Parse(bytes.NewReader(b), int64(len(b)), nil) })
		if bound := 64*uint64(len(b)) + 1<<20; alloc > bound {
			t.Fatalf("parsing %d bytes allocated %d", len(b), alloc)
		}
		if err != nil {
			return
		}
		for _, tr := range file.Tracks {
			checkWalk(t, tr.Samples, file.Size)
		}
		start, end := time.Duration(startMs)*time.Millisecond, time.Duration(endMs)*time.Millisecond
		var l *vfile.Layout
		alloc = heapAllocated(func() { l, err = file.Clip(start, end) })
		if bound := 64*uint64(len(b)) + 1<<20; alloc > bound {
			t.Fatalf("clipping %d bytes allocated %d", len(b), alloc)
		}
		if err == nil {
			clip := reparse(t, l, b)
			if len(clip.Tracks) == 0 || len(clip.Tracks) > len(file.Tracks) || clip.NeedsFaststart() {
				t.Fatalf("clip of %d tracks from %d", len(clip.Tracks), len(file.Tracks))
			}
		}
		if l, err = file.Faststart(); err == nil {
			fast := reparse(t, l, b)
			if len(fast.Tracks) != len(file.Tracks) || fast.NeedsFaststart() {
				t.Fatalf("faststart: %d tracks from %d", len(fast.Tracks), len(file.Tracks))
			}
			for i, tr := range fast.Tracks {
				checkSame(t, tr.Samples, vfile.NewReader(l, bytes.NewReader(b)), file.Tracks[i].Samples, bytes.NewReader(b))
			}
		}
	})
}

// reparse reads a layout of b and parses it.
func reparse(t *testing.T, l *vfile.Layout, b []byte) *File {
	t.Helper()
	if l.Size() > int64(len(b))*4+1<<20 {
		t.Fatalf("layout of %d bytes from %d", l.Size(), len(b))
	}
	out, err := io.ReadAll(vfile.NewReader(l, bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(bytes.NewReader(out), int64(len(out)), nil)
	if err != nil {
		t.Fatalf("parsing what this package wrote: %v", err)
	}
	return f
}

// checkWalk walks the first samples of a table and checks them against
// random access and the file size.
func checkWalk(t *testing.T, st *SampleTable, size int64) {
	t.Helper()
	for i, s := range st.Samples(0, maxWalk) {
		if r, ok := st.Sample(i); !ok || r != s {
			t.Fatalf("sample %d: walk %+v, Sample %+v", i, s, r)
		}
		if s.Offset < 0 || s.Offset+int64(s.Size) > size {
			t.Fatalf("sample %d at %d of %d bytes in a file of %d", i, s.Offset, s.Size, size)
		}
	}
}

// checkSame checks that two tables describe the same samples but for
// their offsets, and the same bytes for the first of them.
func checkSame(t *testing.T, got *SampleTable, gotFile io.ReaderAt, want *SampleTable, wantFile io.ReaderAt) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("%d samples, want %d", got.Len(), want.Len())
	}
	for i, g := range got.Samples(0, maxWalk) {
		w, _ := want.Sample(i)
		if i < 64 {
			gb, wb := make([]byte, g.Size), make([]byte, w.Size)
			if _, err := gotFile.ReadAt(gb, g.Offset); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if _, err := wantFile.ReadAt(wb, w.Offset); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(gb, wb) {
				t.Fatalf("sample %d: other bytes", i)
			}
		}
		w.Offset, g.Offset = 0, 0
		if g != w {
			t.Fatalf("sample %d: %+v, want %+v", i, g, w)
		}
	}
}

// FuzzSampleTable parses arbitrary sample tables (the children of an stbl
// box) and cuts them: the cut tables, parsed again, must describe the same
// samples.
func FuzzSampleTable(f *testing.F) {
	f.Add(encode(goodTables(table("stco", 2, be32(200, 300)))...), uint32(2), uint32(7))
	f.Fuzz(func(t *testing.T, b []byte, from, to uint32) {
		const fileSize = 1 << 20
		budget := maxBoxes
		children, err := parseBoxes(b, &budget)
		if err != nil {
			return
		}
		stbl := NewContainer(typeStbl, children...)
		var st *SampleTable
		alloc := heapAllocated(func() { st, err = ParseSampleTable(stbl, fileSize) })
		if bound := 64*uint64(len(b)) + 1<<20; alloc > bound {
			t.Fatalf("parsing %d bytes allocated %d", len(b), alloc)
		}
		if err != nil || st.Len() == 0 {
			return
		}
		checkWalk(t, st, fileSize)
		from %= st.Len()
		to = from + 1 + to%(st.Len()-from)
		c := &trackCut{t: &Track{Samples: st}, from: from, to: to, chunks: st.chunksOf(from, to)}
		cut, err := c.stbl()
		if err != nil {
			return // tables this package does not cut
		}
		c.stco.Type, c.stco.Payload = chunkOffsetBox(c.chunks, true, func(src int64) int64 { return src })
		got, err := ParseSampleTable(mustReparse(t, cut), fileSize)
		if err != nil {
			t.Fatalf("parsing the cut tables: %v", err)
		}
		if got.Len() != to-from {
			t.Fatalf("cut of %d samples, want %d", got.Len(), to-from)
		}
		for i, g := range got.Samples(0, maxWalk) {
			w, _ := st.Sample(from + i)
			base, _ := st.timeOf(from)
			w.Time -= base
			if g != w {
				t.Fatalf("sample %d of the cut: %+v, want %+v", i, g, w)
			}
		}
	})
}

// mustReparse encodes a built box and parses it back, as a reader of the
// file would.
func mustReparse(t *testing.T, b *Box) *Box {
	t.Helper()
	x, err := ParseBox(b.Append(nil))
	if err != nil {
		t.Fatalf("parsing a box this package wrote: %v", err)
	}
	return x
}
