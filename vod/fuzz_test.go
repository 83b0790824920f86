package vod

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/vfile"
)

// More seeds, in Go's corpus file format, are under testdata/fuzz: small
// files written by ffmpeg, cut, damaged, and with keyframe indexes right
// and stale.

// synthFLV is a small well-formed file: onMetaData, AVC and AAC sequence
// headers, and two GOPs of three frames with audio.
func synthFLV() []byte {
	b := flv.AppendHeader(nil, true, true)
	meta, _ := flv.AppendAMF0(nil, "onMetaData", flv.ECMAArray{{Key: "duration", Value: 0.2}})
	b = flv.AppendTag(b, flv.Tag{Type: flv.TagScript, Data: meta})
	b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}})
	b = flv.AppendTag(b, flv.Tag{Type: flv.TagAudio, Data: []byte{0xaf, 0, 0x12, 0x10}})
	for i := range 6 {
		ft := byte(0x27)
		if i%3 == 0 {
			ft = 0x17
		}
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Timestamp: uint32(40 * i), Data: []byte{ft, 1, 0, 0, 0, 0, 0, 0, 1, 0x65, byte(i)}})
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagAudio, Timestamp: uint32(40*i + 5), Data: []byte{0xaf, 1, byte(i)}})
	}
	return b
}

// heapAllocated returns the bytes f allocated.
func heapAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzScan runs the index builder on arbitrary files and checks what the
// whole view and seeked views are made of: valid tags only, an index that
// points at them, and memory in proportion to the input.
func FuzzScan(f *testing.F) {
	good := synthFLV()
	f.Add(good)
	f.Add(good[:len(good)-7])
	damaged := bytes.Clone(good)
	copy(damaged[120:], "garbage in the middle")
	f.Add(damaged)
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The whole file, and the views of one track (only_audio,
		// only_video).
		for _, want := range []tracks{allTracks, {audio: true}, {video: true}} {
			fuzzScan(t, b, want)
		}
	})
}

func fuzzScan(t *testing.T, b []byte, want tracks) {
	var s *scan
	var err error
	// The window (64 KiB), the script body and the sequence headers
	// the input holds, and per-tag bookkeeping in proportion to it.
	if n := heapAllocated(func() { s, err = scanTracks(bytes.NewReader(b), int64(len(b)), want) }); n > 128<<10+64*uint64(len(b)) {
		t.Fatalf("scanning %d bytes allocated %d", len(b), n)
	}
	if err != nil {
		if !errors.Is(err, errNotFLV) {
			t.Fatalf("error that is not about the file being FLV: %v", err)
		}
		return
	}
	checkSegments(t, b, s)
	ix := buildIndex(s)
	whole := readLayout(t, b, &ix.whole)
	checkServed(t, whole, true)
	if ix.plain && !bytes.Equal(whole, b) {
		t.Fatal("a plain file is not served as stored")
	}
	for _, off := range []int64{1, ix.whole.Size() / 3, ix.whole.Size() / 2, ix.whole.Size() - 1} {
		l, _, err := ix.startLayout(bytes.NewReader(b), off)
		if errors.Is(err, errPastEnd) {
			continue
		}
		if err != nil {
			t.Fatalf("start=%d: %v", off, err)
		}
		// The onMetaData sent again is the whole file's: its index
		// points into the whole file, for the next ?start=.
		checkServed(t, readLayout(t, b, l), false)
	}
	for _, tr := range [][2]int64{{0, -1}, {int64(s.endTs) / 2, -1}, {1, int64(s.endTs) / 2}} {
		l, _, _, err := ix.clipLayout(bytes.NewReader(b), tr[0], tr[1])
		if errors.Is(err, errPastEnd) {
			continue
		}
		if err != nil {
			t.Fatalf("t=%v: %v", tr, err)
		}
		checkServed(t, readLayout(t, b, l), true)
	}
}

// checkSegments checks that every run the scan kept is a chain of whole
// tags inside the file, in order, and that every point is one of them.
func checkSegments(t *testing.T, b []byte, s *scan) {
	t.Helper()
	starts := map[int64]bool{}
	var prevEnd int64
	for i, seg := range s.segments {
		if seg.start < prevEnd || seg.end <= seg.start || seg.end > int64(len(b)) {
			t.Fatalf("run %d: %v after %d in %d bytes", i, seg, prevEnd, len(b))
		}
		for pos := seg.start; pos < seg.end; {
			h, ok := parseTagHeader(b[pos:])
			if !ok {
				t.Fatalf("run %d: no tag at %d", i, pos)
			}
			starts[pos] = true
			pos += int64(h.size) + tagPrefix
			if pos > seg.end {
				t.Fatalf("run %d: tag at %d ends past the run", i, pos)
			}
		}
		prevEnd = seg.end
	}
	for _, list := range [][]point{s.video, s.audio} {
		for i, p := range list {
			if !starts[p.pos] || i > 0 && p.pos <= list[i-1].pos {
				t.Fatalf("point %d at %d is not a tag start in order", i, p.pos)
			}
		}
	}
}

// readLayout reads a layout of the stored file b, in odd-sized reads and
// from the end back, which must agree.
func readLayout(t *testing.T, b []byte, l *vfile.Layout) []byte {
	t.Helper()
	v := vfile.NewReader(l, bytes.NewReader(b))
	all, err := io.ReadAll(io.LimitReader(v, l.Size()+1))
	if err != nil || int64(len(all)) != l.Size() {
		t.Fatalf("reading %d bytes of a layout: got %d, %v", l.Size(), len(all), err)
	}
	buf := make([]byte, 7)
	for off := l.Size() - 7; off > 0; off -= l.Size()/5 + 1 {
		if _, err := v.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		n, err := io.ReadFull(v, buf)
		if err != nil && err != io.ErrUnexpectedEOF {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], all[off:off+int64(n)]) {
			t.Fatalf("bytes at %d read after a seek differ", off)
		}
	}
	return all
}

// checkServed checks a served body: an FLV header and whole tags to the
// end, and when index is set, an onMetaData index, if any, that points at
// its tags.
func checkServed(t *testing.T, body []byte, index bool) {
	t.Helper()
	r := flv.NewReader(bytes.NewReader(body))
	h, err := r.ReadHeader()
	if err != nil {
		t.Fatalf("served body: %v", err)
	}
	pos := int64(h.DataOffset) + 4
	starts := map[int64]bool{}
	var first []byte
	for {
		tag, err := r.ReadTag()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("served body, tag at %d: %v", pos, err)
		}
		if first == nil {
			first = tag.Data
		}
		starts[pos] = true
		pos += int64(flv.EncodedSize(tag))
	}
	if first == nil || !index {
		return
	}
	name, values, err := flv.ParseScript(first)
	if err != nil || name != "onMetaData" || len(values) == 0 {
		return
	}
	m, _ := values[0].(flv.ECMAArray)
	kf, _ := m.Get("keyframes")
	obj, _ := kf.(flv.Object)
	fp, _ := obj.Get("filepositions")
	arr, _ := fp.(flv.StrictArray)
	for _, v := range arr {
		if p, _ := v.(float64); !starts[int64(p)] {
			t.Fatalf("index position %v is not a tag", v)
		}
	}
}

// FuzzResync checks the resynchroniser against the definition: the first
// position at or after from where a tag is strictly valid, or none.
func FuzzResync(f *testing.F) {
	good := synthFLV()
	f.Add(good, uint16(14))
	f.Add(good, uint16(100))
	damaged := bytes.Clone(good)
	copy(damaged[60:], "\x09\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00garbage")
	f.Add(damaged, uint16(50))
	f.Add(bytes.Repeat([]byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11}, 20), uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, from uint16) {
		if len(b) > 8<<10 {
			return // the brute-force check below is quadratic in the worst case
		}
		w := newWindow(bytes.NewReader(b), int64(len(b)))
		pos, found, err := resync(w, int64(from), int64(from)+maxResync)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(-1)
		bw := newWindow(bytes.NewReader(b), int64(len(b)))
		for p := int64(from); p+tagPrefix <= int64(len(b)); p++ {
			if _, ok, _ := validTag(bw, p, true, nil); ok {
				want = p
				break
			}
		}
		if found != (want >= 0) || found && pos != want {
			t.Fatalf("resync from %d: %d %v, want %d", from, pos, found, want)
		}
	})
}

// FuzzHeadScan runs the head-only index of a source's files on arbitrary
// files: it takes the file's own index on trust after a few checks, so
// what it finds must serve without a panic or unbounded memory, whatever
// lies between the places checked (reads may fail; that request fails).
func FuzzHeadScan(f *testing.F) {
	good := synthFLV()
	s, err := scanFile(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		f.Fatal(err)
	}
	ix := buildIndex(s)
	indexed, err := io.ReadAll(vfile.NewReader(&ix.whole, bytes.NewReader(good)))
	if err != nil {
		f.Fatal(err)
	}
	if headScan(bytes.NewReader(indexed), int64(len(indexed))) == nil {
		f.Fatal("the head of a well-formed indexed file is not taken")
	}
	f.Add(indexed)
	f.Add(indexed[:len(indexed)-5])
	damaged := bytes.Clone(indexed)
	copy(damaged[len(damaged)/2:], "garbage in the middle")
	f.Add(damaged)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s *scan
		if n := heapAllocated(func() { s = headScan(bytes.NewReader(b), int64(len(b))) }); n > 128<<10+64*uint64(len(b)) {
			t.Fatalf("reading the head of %d bytes allocated %d", len(b), n)
		}
		if s == nil {
			return
		}
		ix := buildIndex(s)
		for _, off := range []int64{1, ix.whole.Size() / 2, ix.whole.Size() - 1} {
			if l, _, err := ix.startLayout(bytes.NewReader(b), off); err == nil {
				io.Copy(io.Discard, vfile.NewReader(l, bytes.NewReader(b)))
			}
		}
		for _, tr := range [][2]int64{{0, -1}, {int64(s.endTs) / 2, -1}, {1, int64(s.endTs) / 2}} {
			if l, _, _, err := ix.clipLayout(bytes.NewReader(b), tr[0], tr[1]); err == nil {
				io.Copy(io.Discard, vfile.NewReader(l, bytes.NewReader(b)))
			}
		}
	})
}
