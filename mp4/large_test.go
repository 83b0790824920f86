package mp4

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flvedge/flvedge/vfile"
)

// writeAt writes b at off in f or fails the test.
func writeAt(t testing.TB, f *os.File, b []byte, off int64) {
	t.Helper()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// hole is the gap that puts the media of the large test files beyond
// 4 GiB. The files are sparse: the gap takes no disk space.
const hole = 9 << 29 // 4.5 GiB

// TestFileOver4GB moves the media of av.mp4 beyond 4 GiB in a sparse file:
// a 64-bit mdat and co64 chunk offsets. The parsed samples must be the
// bytes of the original's, a clip must decode to the original's frames,
// and faststart must keep offsets beyond 4 GiB right.
func TestFileOver4GB(t *testing.T) {
	small, src := parseFixture(t, fixAV)
	var mdat BoxHeader
	for _, b := range small.Boxes {
		if b.Type == typeMdat {
			mdat = b
		}
	}
	path := filepath.Join(t.TempDir(), "big.mp4")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ftyp := small.ftyp.Append(nil)
	writeAt(t, out, ftyp, 0)
	media := make([]byte, mdat.Size-mdat.HeaderSize)
	if _, err := src.ReadAt(media, mdat.Offset+mdat.HeaderSize); err != nil {
		t.Fatal(err)
	}
	payload := int64(len(ftyp)) + 16
	writeAt(t, out, cat(be32(1), []byte("mdat"), be64(uint64(16+hole+len(media)))), int64(len(ftyp)))
	writeAt(t, out, media, payload+hole)
	delta := payload + hole - (mdat.Offset + mdat.HeaderSize)
	tables := map[*Box]*Box{}
	for _, tr := range small.Tracks {
		st := tr.Samples
		var offs []byte
		for c := range st.chunkCount() {
			offs = append(offs, be64(uint64(int64(st.chunkOffset(c))+delta))...)
		}
		tables[st.boxes.stco] = table("co64", int(st.chunkCount()), offs)
	}
	writeAt(t, out, replaceBoxes(small.Moov, tables).Append(nil), payload+hole+int64(len(media)))
	st, err := out.Stat()
	if err != nil {
		t.Fatal(err)
	}

	big, err := Parse(out, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := big.Boxes[1]; b.Type != typeMdat || b.HeaderSize != 16 || b.Size <= math.MaxUint32 {
		t.Fatalf("second box %+v, want a 64-bit mdat over 4 GiB", b)
	}
	for i, tr := range big.Tracks {
		sameSamples(t, tr.Samples, out, small.Tracks[i].Samples, src)
	}

	t.Run("clip", func(t *testing.T) {
		clipOver4GB(t, big, out)
	})
	t.Run("faststart", func(t *testing.T) {
		l, err := big.Faststart()
		if err != nil {
			t.Fatal(err)
		}
		if l.Size() != st.Size() {
			t.Fatalf("faststart of %d bytes, want %d", l.Size(), st.Size())
		}
		r := vfile.NewReader(l, out)
		fast, err := Parse(r, l.Size(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if fast.NeedsFaststart() || fast.Boxes[1].Type != typeMoov {
			t.Fatalf("boxes after faststart: %+v", fast.Boxes)
		}
		for i, tr := range fast.Tracks {
			if !tr.Samples.chunkWide {
				t.Errorf("track %d lost its co64", tr.ID)
			}
			sameSamples(t, tr.Samples, r, small.Tracks[i].Samples, src)
		}
	})
}

// sameSamples checks that two sample tables describe the same samples,
// with the same bytes in their files.
func sameSamples(t *testing.T, got *SampleTable, gotFile io.ReaderAt, want *SampleTable, wantFile io.ReaderAt) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("%d samples, want %d", got.Len(), want.Len())
	}
	for i, g := range got.Samples(0, got.Len()) {
		w, _ := want.Sample(i)
		if g.Time != w.Time || g.Size != w.Size || g.Keyframe != w.Keyframe || g.CompositionOffset != w.CompositionOffset {
			t.Fatalf("sample %d: %+v, want %+v", i, g, w)
		}
		gb, wb := make([]byte, g.Size), make([]byte, w.Size)
		if _, err := gotFile.ReadAt(gb, g.Offset); err != nil {
			t.Fatalf("sample %d at %d: %v", i, g.Offset, err)
		}
		if _, err := wantFile.ReadAt(wb, w.Offset); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gb, wb) {
			t.Fatalf("sample %d: other bytes at %d than the original's at %d", i, g.Offset, w.Offset)
		}
	}
}

// TestClipOver4GB cuts a clip of more than 4 GiB of media (a track of five
// samples of 1.25 GiB in a sparse file, cut from 0.5 s): the clip needs a
// 64-bit mdat and co64 offsets, which must point at the samples' bytes.
func TestClipOver4GB(t *testing.T) {
	const size = 5 << 28 // 1.25 GiB
	moovOf := func(offsets []uint64) *Box {
		return container("moov", mvhdOf(1000, 5000), trakOf(1, "data", 1000, 5000,
			table("stts", 1, be32(5, 1000)),
			table("stsc", 1, be32(1, 1, 1)),
			box("stsz", fullHead(0), be32(size, 5)),
			table("co64", 5, be64(offsets...))))
	}
	moovSize := moovOf(make([]uint64, 5)).Size()
	var offsets []uint64
	for i := range 5 {
		offsets = append(offsets, uint64(moovSize+16+int64(i)*size))
	}
	path := filepath.Join(t.TempDir(), "huge.mp4")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	writeAt(t, out, moovOf(offsets).Append(nil), 0)
	writeAt(t, out, cat(be32(1), []byte("mdat"), be64(16+5*size)), moovSize)
	for i, off := range offsets {
		writeAt(t, out, fmt.Appendf(nil, "sample %d starts", i), int64(off))
		writeAt(t, out, fmt.Appendf(nil, "sample %d ends", i), int64(off)+size-14)
	}
	f, err := Parse(out, moovSize+16+5*size, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.Clip(500*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := vfile.NewReader(l, out)
	clip, err := Parse(r, l.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := clip.Boxes[1]; b.Type != typeMdat || b.HeaderSize != 16 || b.Size != 16+5*size {
		t.Fatalf("clip's mdat %+v, want 64-bit with five samples", b)
	}
	st := clip.Tracks[0].Samples
	if !st.chunkWide || st.Len() != 5 {
		t.Fatalf("clip track: %d samples, co64 %v", st.Len(), st.chunkWide)
	}
	for i, s := range st.Samples(0, st.Len()) {
		head, tail := make([]byte, 15), make([]byte, 13)
		if _, err := r.ReadAt(head, s.Offset); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadAt(tail, s.Offset+int64(s.Size)-14); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("sample %d starts", i); string(head) != want[:15] {
			t.Errorf("sample %d starts with %q", i, head)
		}
		if want := fmt.Sprintf("sample %d ends", i); string(tail) != want {
			t.Errorf("sample %d ends with %q", i, tail)
		}
	}
	e := clip.Tracks[0].Edits
	if len(e) != 1 || e[0].MediaTime != 500 || e[0].Duration != 4500 {
		t.Errorf("clip's edit list %+v, want 4.5 s from 500 ms", e)
	}
}
