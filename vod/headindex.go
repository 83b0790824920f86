package vod

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/flvedge/flvedge/flv"
)

// headLimit bounds the bytes before the first keyframe that headScan
// reads: the FLV header, onMetaData and the sequence headers.
const headLimit = 4 << 20

// headScan reads only the head of an FLV file whose onMetaData carries a
// keyframe index (as yamdi writes it) and a duration, and takes that index
// as the file's, once a few checks hold: the positions are increasing tags
// within the file, the middle and last ones are video keyframes at their
// times, and the file ends with a whole tag. A file from a source is
// fetched in slices, and a full scan would fetch all of it before the
// first byte of a seek could go out: this way a seek into a large indexed
// file costs a few slices. Nil when the file cannot be served this way;
// then it is scanned in full, as local files are.
func headScan(r io.ReaderAt, size int64) *scan {
	w := newWindow(r, size)
	first, err := readHeader(w)
	if err != nil {
		return nil
	}
	flags, err := w.peek(4, 1)
	if err != nil || len(flags) < 1 {
		return nil
	}
	s := &scan{size: size, want: allTracks, videoStride: 1, audioStride: 1}
	for pos := first; !s.sawKeyframe(); {
		if pos >= size || pos-first > headLimit {
			return nil
		}
		h, ok, err := validTag(w, pos, false, nil)
		if err != nil || !ok || s.record(w, pos, h) != nil {
			return nil
		}
		pos += int64(h.size) + tagPrefix
	}
	facts := readMeta(s.metaBody, allTracks)
	n := len(facts.positions)
	if facts.duration <= 0 || facts.duration > math.MaxUint32/1000 || !facts.hasKeyIndex || n > maxPoints {
		return nil
	}
	seq := map[int64]bool{}
	for _, h := range s.seqVideo {
		seq[h.pos] = true
	}
	pts := make([]point, 0, n)
	for i, fp := range facts.positions {
		p, t := int64(fp), facts.times[i]
		if float64(p) != fp || p < first || p >= size || len(pts) > 0 && p <= pts[len(pts)-1].pos ||
			!(t >= 0 && t <= facts.duration+1) || len(pts) > 0 && math.Round(t*1000) < float64(pts[len(pts)-1].ts) {
			return nil
		}
		kind := pointKeyframe
		if seq[p] {
			kind = pointSeqHeader
		}
		pts = append(pts, point{pos: p, ts: uint32(math.Round(t * 1000)), kind: kind})
	}
	for _, p := range []point{pts[n/2], pts[n-1]} {
		if !keyframeAt(w, p) {
			return nil
		}
	}
	// The file ends with a whole tag, as the last PreviousTagSize says.
	var b [4]byte
	if size < first+4 || readFull(r, b[:], size-4) != nil {
		return nil
	}
	last := size - 4 - int64(binary.BigEndian.Uint32(b[:]))
	if h, ok, err := validTag(w, last, true, nil); last < first || err != nil || !ok || last+int64(h.size)+tagPrefix != size {
		return nil
	}
	s.video, s.videoSeen = pts, n
	s.audio = nil // seeking goes by video keyframes
	s.segments = []span{{first, size}}
	s.hasAudio = s.hasAudio || flags[0]&0x04 != 0
	s.endTs = uint32(facts.duration * 1000)
	return s
}

// sawKeyframe reports whether a coded video keyframe has been recorded.
func (s *scan) sawKeyframe() bool {
	for _, p := range s.video {
		if p.kind == pointKeyframe {
			return true
		}
	}
	return false
}

// keyframeAt reports whether p is a valid video tag of keyframe type at
// about its time.
func keyframeAt(w *window, p point) bool {
	h, ok, err := validTag(w, p.pos, true, nil)
	if err != nil || !ok || h.typ != flv.TagVideo || h.size == 0 || max(h.ts, p.ts)-min(h.ts, p.ts) > 1000 {
		return false
	}
	b, err := w.peek(p.pos, flv.TagHeaderSize+1)
	return err == nil && len(b) > flv.TagHeaderSize && b[flv.TagHeaderSize]>>4&0x07 == flv.FrameTypeKey
}
