package index

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// More seeds, in Go's corpus file format, are under testdata/fuzz: small
// files written by ffmpeg, cut, damaged, and with keyframe indexes right
// and stale.

// gopFile is a small well-formed file: onMetaData (with a keyframe index
// when indexed), AVC and AAC sequence headers, and GOPs of three frames
// with audio.
func gopFile(gops int, indexed bool) []byte {
	var tags []flv.Tag
	tags = append(tags, flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}},
		flv.Tag{Type: flv.TagAudio, Data: []byte{0xaf, 0, 0x12, 0x10}})
	var keyTags []int
	for i := range 3 * gops {
		frame := []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41, byte(i)}
		if i%3 == 0 {
			frame[0] = 0x17
			keyTags = append(keyTags, len(tags))
		}
		tags = append(tags, flv.Tag{Type: flv.TagVideo, Timestamp: uint32(40 * i), Data: frame},
			flv.Tag{Type: flv.TagAudio, Timestamp: uint32(40*i + 5), Data: []byte{0xaf, 1, byte(i)}})
	}
	props := flv.ECMAArray{{Key: "duration", Value: float64(3*gops) * 0.04}}
	encode := func(meta []byte) ([]byte, []float64) {
		b := flv.AppendHeader(nil, true, true)
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagScript, Data: meta})
		var positions []float64
		for i, tag := range tags {
			if len(keyTags) > 0 && i == keyTags[len(positions)%len(keyTags)] && len(positions) < len(keyTags) {
				positions = append(positions, float64(len(b)))
			}
			b = flv.AppendTag(b, tag)
		}
		return b, positions
	}
	meta, _ := flv.AppendAMF0(nil, "onMetaData", props)
	b, positions := encode(meta)
	if !indexed {
		return b
	}
	// The index takes as many bytes whatever its numbers: encode once with
	// placeholders, then with the positions found.
	times := make(flv.StrictArray, len(positions))
	pos := make(flv.StrictArray, len(positions))
	for i := range positions {
		times[i], pos[i] = float64(i)*0.12, 0.0
	}
	withIndex := func() []byte {
		m, _ := flv.AppendAMF0(nil, "onMetaData", append(props, flv.Property{Key: "keyframes", Value: flv.Object{{Key: "filepositions", Value: pos}, {Key: "times", Value: times}}}))
		return m
	}
	_, positions = encode(withIndex())
	for i, p := range positions {
		pos[i] = p
	}
	b, _ = encode(withIndex())
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

// FuzzScan scans arbitrary files, whole and for one track: memory in
// proportion to the input, an error only for what is not FLV at all, and
// runs of valid tags with the points among them.
func FuzzScan(f *testing.F) {
	// A file, the same with its own index, cut inside its last tag, with
	// one tag's size field wrong (the scan resynchronises past it), and
	// a header alone.
	for _, b := range [][]byte{gopFile(2, false), gopFile(2, true)} {
		f.Add(b)
		f.Add(b[:len(b)-5])
		wrongSize := bytes.Clone(b)
		wrongSize[len(wrongSize)/2] ^= 0x40
		f.Add(wrongSize)
	}
	f.Add(flv.AppendHeader(nil, true, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, want := range []Tracks{AllTracks, {Audio: true}, {Video: true}} {
			var s *Scan
			var err error
			// The window (64 KiB), the script body and the sequence
			// headers the input holds, and per-tag bookkeeping in
			// proportion to it.
			if n := heapAllocated(func() { s, err = ScanFile(bytes.NewReader(b), int64(len(b)), want) }); n > 128<<10+64*uint64(len(b)) {
				t.Fatalf("scanning %d bytes allocated %d", len(b), n)
			}
			if err != nil {
				if !errors.Is(err, ErrNotFLV) && !errors.Is(err, ErrTooManyRuns) {
					t.Fatalf("error that is not about the file being FLV: %v", err)
				}
				continue
			}
			checkSegments(t, b, s)
			for _, tr := range []int64{0, int64(s.EndTs) / 2, int64(s.EndTs)} {
				first, err := s.SyncAtOrBefore(bytes.NewReader(b), tr)
				if errors.Is(err, ErrPastEnd) {
					continue
				}
				if err != nil {
					t.Fatalf("sync at %d ms: %v", tr, err)
				}
				cut, err := s.CutAt(bytes.NewReader(b), first, tr+100)
				if err != nil || cut < first.Pos || cut > s.DataEnd() {
					t.Fatalf("clip from %d at %d ms: cut %d, %v", first.Pos, tr+100, cut, err)
				}
			}
		}
	})
}

// FuzzScanHead reads the head of arbitrary files, which takes a file's
// own index on trust after a few checks: memory in proportion to the
// input, and points and runs inside the file.
func FuzzScanHead(f *testing.F) {
	indexed := gopFile(3, true)
	if ScanHead(bytes.NewReader(indexed), int64(len(indexed))) == nil {
		f.Fatal("the head of a well-formed indexed file is not taken")
	}
	// The file, followed by the tail of a longer one (its last tag is then
	// not the file's end), with its last keyframe's frame type changed
	// (the index is stale there), and a file without an index.
	f.Add(indexed)
	longer := gopFile(4, true)
	f.Add(append(bytes.Clone(indexed), longer[len(indexed):]...))
	stale := bytes.Clone(indexed)
	if s := ScanHead(bytes.NewReader(stale), int64(len(stale))); s != nil {
		stale[s.Video[len(s.Video)-1].Pos+flv.TagHeaderSize] = 0x27
	}
	f.Add(stale)
	f.Add(gopFile(2, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s *Scan
		if n := heapAllocated(func() { s = ScanHead(bytes.NewReader(b), int64(len(b))) }); n > 128<<10+64*uint64(len(b)) {
			t.Fatalf("reading the head of %d bytes allocated %d", len(b), n)
		}
		if s == nil {
			return
		}
		for i, p := range s.Video {
			if p.Pos < 0 || p.Pos >= int64(len(b)) || i > 0 && p.Pos <= s.Video[i-1].Pos {
				t.Fatalf("point %d at %d in %d bytes, out of order or place", i, p.Pos, len(b))
			}
		}
		if len(s.Segments) != 1 || s.Segments[0].End != int64(len(b)) {
			t.Fatalf("runs %v of a file of %d bytes", s.Segments, len(b))
		}
	})
}

// TestScanHeadTakesTheFilesIndex: the head of an indexed file gives the
// keyframes the whole scan finds.
func TestScanHeadTakesTheFilesIndex(t *testing.T) {
	b := gopFile(4, true)
	head := ScanHead(bytes.NewReader(b), int64(len(b)))
	whole, err := ScanFile(bytes.NewReader(b), int64(len(b)), AllTracks)
	if head == nil || err != nil {
		t.Fatalf("head %v, whole scan: %v", head != nil, err)
	}
	var keyframes []int64
	for _, p := range whole.Video {
		if p.Kind == PointKeyframe {
			keyframes = append(keyframes, p.Pos)
		}
	}
	if len(head.Video) != len(keyframes) {
		t.Fatalf("head: %d points, whole scan %d keyframes", len(head.Video), len(keyframes))
	}
	for i, p := range head.Video {
		if p.Pos != keyframes[i] {
			t.Fatalf("point %d at %d, keyframe at %d", i, p.Pos, keyframes[i])
		}
	}
	if !whole.IndexMatches(ReadMetadata(flv.Properties(mustScript(t, whole.MetaBody))).Positions) {
		t.Error("the file's own index does not match its keyframes")
	}
}

func mustScript(t *testing.T, body []byte) []any {
	t.Helper()
	_, values, err := flv.ParseScript(body)
	if err != nil {
		t.Fatal(err)
	}
	return values
}

// TestThinnedIndexSeeksExactly: a file of nothing but tiny keyframes is
// thinned to at most MaxPoints, and seeking still lands on the exact next
// keyframe.
func TestThinnedIndexSeeksExactly(t *testing.T) {
	b := flv.AppendHeader(nil, false, true)
	n := MaxPoints*2 + 1000
	for i := range n {
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Timestamp: uint32(i), Data: []byte{0x17, 1, 0, 0, 0, byte(i)}})
	}
	s, err := ScanFile(bytes.NewReader(b), int64(len(b)), AllTracks)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Video) > MaxPoints || len(s.Video) < MaxPoints/2 || s.VideoStride != 4 || !s.Thinned() {
		t.Fatalf("%d points, stride %d", len(s.Video), s.VideoStride)
	}
	// Every tag is a keyframe here, 21 bytes each, from 13 on.
	foff := int64(len(b)/2 + 5)
	p, err := s.NextSync(bytes.NewReader(b), foff)
	if err != nil {
		t.Fatal(err)
	}
	if want := 13 + 21*((foff-13+20)/21); p.Pos != want {
		t.Fatalf("offset %d started at %d, want %d", foff, p.Pos, want)
	}
}

// checkSegments checks that every run the scan kept is a chain of whole
// tags inside the file, in order, and that every point is one of them.
func checkSegments(t *testing.T, b []byte, s *Scan) {
	t.Helper()
	starts := map[int64]bool{}
	var prevEnd int64
	for i, seg := range s.Segments {
		if seg.Start < prevEnd || seg.End <= seg.Start || seg.End > int64(len(b)) {
			t.Fatalf("run %d: %v after %d in %d bytes", i, seg, prevEnd, len(b))
		}
		for pos := seg.Start; pos < seg.End; {
			h, ok := TagHeader(b[pos:])
			if !ok {
				t.Fatalf("run %d: no tag at %d", i, pos)
			}
			starts[pos] = true
			pos += int64(h.DataSize) + tagPrefix
			if pos > seg.End {
				t.Fatalf("run %d: tag at %d ends past the run", i, pos)
			}
		}
		prevEnd = seg.End
	}
	for _, list := range [][]Point{s.Video, s.Audio} {
		for i, p := range list {
			if !starts[p.Pos] || i > 0 && p.Pos <= list[i-1].Pos {
				t.Fatalf("point %d at %d is not a tag start in order", i, p.Pos)
			}
		}
	}
}

// FuzzResync checks the resynchroniser against the definition: the first
// position at or after from where a tag is strictly valid, or none.
func FuzzResync(f *testing.F) {
	good := gopFile(2, false)
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

// TestAbsurdTagSizesCostNoMemory: files whose every few bytes look like
// the header of a 16 MiB tag are scanned without memory growing with the
// claims, and with bounded work: the file read about once, plus at most
// maxFarChecks checks of a candidate's end. Work is counted, not timed, so
// that a loaded machine does not fail the test (time is for benchmarks).
func TestAbsurdTagSizesCostNoMemory(t *testing.T) {
	// Tag headers claiming 16 MiB, 11 bytes apart, over 8 MiB: every one is
	// a candidate for the resynchroniser, and none is confirmed.
	b := flv.AppendHeader(nil, true, true)
	for len(b) < 8<<20 {
		b = append(b, 9, 0xff, 0xff, 0xf0, 0, 0, 0, 0, 0, 0, 0)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := &countingReader{r: bytes.NewReader(b)}
	s, err := ScanFile(r, int64(len(b)), AllTracks)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Segments) != 0 || !s.Tail {
		t.Fatalf("found %d runs of tags in garbage", len(s.Segments))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("scanning allocated %d bytes", alloc)
	}
	t.Logf("%d reads of %d bytes for a file of %d", r.calls, r.bytes, len(b))
	if maxBytes := 2*int64(len(b)) + maxFarChecks*tagPrefix; r.bytes > maxBytes {
		t.Fatalf("scanning read %d bytes of a file of %d, bound %d", r.bytes, len(b), maxBytes)
	}
	if maxCalls := 2*int64(len(b))/windowSize + maxFarChecks + 16; r.calls > maxCalls {
		t.Fatalf("scanning read %d times, bound %d", r.calls, maxCalls)
	}
}

// countingReader counts the reads made of r and the bytes they return.
type countingReader struct {
	r            io.ReaderAt
	calls, bytes int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.calls++
	c.bytes += int64(n)
	return n, err
}
