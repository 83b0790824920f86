package vod

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/flv/index"
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

// FuzzScan runs the index builder on arbitrary files and checks what the
// whole view and seeked views are made of: valid tags only, and an index
// that points at them. The scan's own bounds are flv/index's FuzzScan's.
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
		for _, want := range []index.Tracks{index.AllTracks, {Audio: true}, {Video: true}} {
			fuzzScan(t, b, want)
		}
	})
}

func fuzzScan(t *testing.T, b []byte, want index.Tracks) {
	// What the scan costs is flv/index's FuzzScan's to check.
	s, err := index.ScanFile(bytes.NewReader(b), int64(len(b)), want)
	if err != nil {
		if !errors.Is(err, index.ErrNotFLV) {
			t.Fatalf("error that is not about the file being FLV: %v", err)
		}
		return
	}
	ix := buildIndex(s)
	whole := readLayout(t, b, &ix.whole, ix)
	checkServed(t, whole, true)
	if ix.plain && !bytes.Equal(whole, b) {
		t.Fatal("a plain file is not served as stored")
	}
	for _, off := range []int64{1, ix.whole.size / 3, ix.whole.size / 2, ix.whole.size - 1} {
		l, _, err := ix.startLayout(bytes.NewReader(b), off)
		if errors.Is(err, index.ErrPastEnd) {
			continue
		}
		if err != nil {
			t.Fatalf("start=%d: %v", off, err)
		}
		// The onMetaData sent again is the whole file's: its index
		// points into the whole file, for the next ?start=.
		checkServed(t, readLayout(t, b, &l, ix), false)
	}
	for _, tr := range [][2]int64{{0, -1}, {int64(s.EndTs) / 2, -1}, {1, int64(s.EndTs) / 2}} {
		l, _, _, err := ix.clipLayout(bytes.NewReader(b), tr[0], tr[1])
		if errors.Is(err, index.ErrPastEnd) {
			continue
		}
		if err != nil {
			t.Fatalf("t=%v: %v", tr, err)
		}
		checkServed(t, readLayout(t, b, &l, ix), true)
	}
}

// readLayout reads a layout through a virtualFile, in odd-sized reads and
// from the end back, which must agree.
func readLayout(t *testing.T, b []byte, l *layout, ix *fileIndex) []byte {
	t.Helper()
	v := newVirtualFile(bytes.NewReader(b), l, ix)
	all, err := io.ReadAll(io.LimitReader(v, l.size+1))
	if err != nil || int64(len(all)) != l.size {
		t.Fatalf("reading %d bytes of a layout: got %d, %v", l.size, len(all), err)
	}
	buf := make([]byte, 7)
	for off := l.size - 7; off > 0; off -= l.size/5 + 1 {
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

// FuzzHeadScan runs the head-only index of a source's files on arbitrary
// files: it takes the file's own index on trust after a few checks, so
// what it finds must serve without a panic, whatever lies between the
// places checked (reads may fail; that request fails). What reading the
// head costs is flv/index's FuzzScanHead's to check.
func FuzzHeadScan(f *testing.F) {
	good := synthFLV()
	s, err := index.ScanFile(bytes.NewReader(good), int64(len(good)), index.AllTracks)
	if err != nil {
		f.Fatal(err)
	}
	ix := buildIndex(s)
	indexed, err := io.ReadAll(newVirtualFile(bytes.NewReader(good), &ix.whole, ix))
	if err != nil {
		f.Fatal(err)
	}
	if index.ScanHead(bytes.NewReader(indexed), int64(len(indexed))) == nil {
		f.Fatal("the head of a well-formed indexed file is not taken")
	}
	f.Add(indexed)
	f.Add(indexed[:len(indexed)-5])
	damaged := bytes.Clone(indexed)
	copy(damaged[len(damaged)/2:], "garbage in the middle")
	f.Add(damaged)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := index.ScanHead(bytes.NewReader(b), int64(len(b)))
		if s == nil {
			return
		}
		ix := buildIndex(s)
		for _, off := range []int64{1, ix.whole.size / 2, ix.whole.size - 1} {
			if l, _, err := ix.startLayout(bytes.NewReader(b), off); err == nil {
				io.Copy(io.Discard, newVirtualFile(bytes.NewReader(b), &l, ix))
			}
		}
		for _, tr := range [][2]int64{{0, -1}, {int64(s.EndTs) / 2, -1}, {1, int64(s.EndTs) / 2}} {
			if l, _, _, err := ix.clipLayout(bytes.NewReader(b), tr[0], tr[1]); err == nil {
				io.Copy(io.Discard, newVirtualFile(bytes.NewReader(b), &l, ix))
			}
		}
	})
}
