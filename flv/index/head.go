package index

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/flvedge/flvedge/flv"
)

// headLimit bounds the bytes before the first keyframe that ScanHead
// reads: the FLV header, onMetaData and the sequence headers.
const headLimit = 4 << 20

// ScanHead reads only the head of an FLV file whose onMetaData carries a
// keyframe index (as yamdi writes it) and a duration, and takes that index
// as the file's, once a few checks hold: the positions are increasing tags
// within the file, the middle and last ones are video keyframes at their
// times, and the file ends with a whole tag. A file from a source is
// fetched in slices, and a full scan would fetch all of it before the
// first byte of a seek could go out: this way a seek into a large indexed
// file costs a few slices. Nil when the file cannot be served this way;
// then it is scanned in full, as local files are.
func ScanHead(r io.ReaderAt, size int64) *Scan {
	w := newWindow(r, size)
	hdr, err := readHeader(w)
	if err != nil {
		return nil
	}
	first := hdr.FirstTag()
	s := &Scan{Size: size, Want: AllTracks, VideoStride: 1, AudioStride: 1}
	for pos := first; !s.sawKeyframe(); {
		if pos >= size || pos-first > headLimit {
			return nil
		}
		h, ok, err := validTag(w, pos, false, nil)
		if err != nil || !ok || s.record(w, pos, h) != nil {
			return nil
		}
		pos += int64(h.DataSize) + tagPrefix
	}
	facts := metadataOf(s.MetaBody)
	n := len(facts.Positions)
	if facts.Duration <= 0 || facts.Duration > math.MaxUint32/1000 || !facts.HasKeyIndex || n > MaxPoints {
		return nil
	}
	seq := map[int64]bool{}
	for _, h := range s.SeqVideo {
		seq[h.Pos] = true
	}
	pts := make([]Point, 0, n)
	for i, fp := range facts.Positions {
		p, t := int64(fp), facts.Times[i]
		if float64(p) != fp || p < first || p >= size || len(pts) > 0 && p <= pts[len(pts)-1].Pos ||
			!(t >= 0 && t <= facts.Duration+1) || len(pts) > 0 && math.Round(t*1000) < float64(pts[len(pts)-1].TS) {
			return nil
		}
		kind := PointKeyframe
		if seq[p] {
			kind = PointSeqHeader
		}
		pts = append(pts, Point{Pos: p, TS: uint32(math.Round(t * 1000)), Kind: kind})
	}
	for _, p := range []Point{pts[n/2], pts[n-1]} {
		if !keyframeAt(w, p) {
			return nil
		}
	}
	// The file ends with a whole tag, as the last PreviousTagSize says.
	if size < first+4 {
		return nil
	}
	b, err := w.peek(size-4, 4)
	if err != nil || len(b) < 4 {
		return nil
	}
	last := size - 4 - int64(binary.BigEndian.Uint32(b))
	if h, ok, err := validTag(w, last, true, nil); last < first || err != nil || !ok || last+int64(h.DataSize)+tagPrefix != size {
		return nil
	}
	s.Video, s.videoSeen = pts, n
	s.Audio = nil // seeking goes by video keyframes
	s.Segments = []Span{{first, size}}
	s.HasAudio = s.HasAudio || hdr.HasAudio
	s.EndTs = uint32(facts.Duration * 1000)
	return s
}

// sawKeyframe reports whether a coded video keyframe has been recorded.
func (s *Scan) sawKeyframe() bool {
	for _, p := range s.Video {
		if p.Kind == PointKeyframe {
			return true
		}
	}
	return false
}

// keyframeAt reports whether p is a valid video tag of keyframe type at
// about its time.
func keyframeAt(w *window, p Point) bool {
	h, ok, err := validTag(w, p.Pos, true, nil)
	if err != nil || !ok || h.Type != flv.TagVideo || h.DataSize == 0 || max(h.Timestamp, p.TS)-min(h.Timestamp, p.TS) > 1000 {
		return false
	}
	b, err := w.peek(p.Pos, flv.TagHeaderSize+1)
	return err == nil && len(b) > flv.TagHeaderSize && flv.FrameType(b[flv.TagHeaderSize:]) == flv.FrameTypeKey
}
