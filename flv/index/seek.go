package index

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/flvedge/flvedge/flv"
)

// ErrPastEnd is returned for a seek to an offset or a time after the last
// place where playback can start.
var ErrPastEnd = errors.New("past the end")

// maxWalk bounds the tags one request reads on its own, beyond the index:
// the walk from a thinned seek point to an exact one, or to a clip's end.
const maxWalk = 1 << 14

// IndexMatches reports whether every stored keyframe position is a tag of
// keyframe type, as the scan found them. A stale index (the file was cut or
// remuxed after indexing) sends players to the wrong bytes, so such a file
// is served with a new one.
func (s *Scan) IndexMatches(positions []float64) bool {
	if s.VideoStride > 1 {
		return true // not every keyframe is known: trust the file
	}
	known := s.Video
	if !s.HasVideo {
		return false
	}
	for _, p := range positions {
		i := sort.Search(len(known), func(i int) bool { return float64(known[i].Pos) >= p })
		if i == len(known) || float64(known[i].Pos) != p {
			return false
		}
	}
	return true
}

// IndexPoints are the entries of the whole file's keyframe index: every
// video tag of keyframe type, as yamdi writes it (the sequence header
// first, which mpegts.js and flv.js skip knowing it is there). A file
// without video gets its audio points, after its audio sequence header.
// Every one is a valid tag, so every one has a place in the whole view.
func (s *Scan) IndexPoints() []Point {
	var out []Point
	if !s.HasVideo && len(s.Audio) > 0 {
		if h, ok := LastBefore(s.SeqAudio, s.Audio[0].Pos); ok {
			out = append(out, Point{Pos: h.Pos, Kind: PointSeqHeader})
		}
	}
	return append(out, s.IndexSource()...)
}

// IndexSource is the list index entries come from.
func (s *Scan) IndexSource() []Point {
	if s.HasVideo {
		return s.Video
	}
	return s.Audio
}

// LastBefore returns the last sequence header stored before pos.
func LastBefore(list []SeqHeader, pos int64) (SeqHeader, bool) {
	i := sort.Search(len(list), func(i int) bool { return list[i].Pos >= pos })
	if i == 0 {
		return SeqHeader{}, false
	}
	return list[i-1], true
}

// SyncAtOrBefore finds where a clip starting at ms begins: the last sync
// point whose time is at or before ms, in file order up to the first one
// after it; the first sync point when ms is before all of them. Where the
// index does not hold every sync point (audio has one a second), the tags
// after the point found are read for a later one.
func (s *Scan) SyncAtOrBefore(r io.ReaderAt, ms int64) (Point, error) {
	var best Point
	found := false
	for _, p := range s.SyncPoints() {
		if !p.IsSync() {
			continue
		}
		if found && int64(p.TS) > ms {
			break
		}
		best, found = p, true
	}
	if !found {
		return Point{}, ErrPastEnd
	}
	if !s.Thinned() || int64(best.TS) >= ms {
		return best, nil
	}
	_, _, err := s.walk(r, best.Pos, func(pos int64, h flv.TagHeader, body []byte) bool {
		if !s.syncTag(h, body) {
			return false
		}
		if int64(h.Timestamp) > ms {
			return true
		}
		best = Point{Pos: pos, TS: h.Timestamp, Kind: best.Kind}
		return false
	})
	return best, err
}

// IsSync reports whether playback can start at p.
func (p Point) IsSync() bool {
	return p.Kind == PointKeyframe || p.Kind == PointAudio
}

// NextSync finds the first sync point at or after stored offset foff. The
// index answers when it holds every keyframe; otherwise the tags after the
// last point before foff are read until one is a sync point.
func (s *Scan) NextSync(r io.ReaderAt, foff int64) (Point, error) {
	pts := s.SyncPoints()
	i := sort.Search(len(pts), func(i int) bool { return pts[i].Pos >= foff })
	if s.Thinned() {
		from := s.tagStartBefore(pts, i, foff)
		if from >= 0 {
			p, found, err := s.walk(r, from, func(pos int64, h flv.TagHeader, body []byte) bool {
				return pos >= foff && s.syncTag(h, body)
			})
			if err != nil {
				return Point{}, err
			}
			if found {
				return p, nil
			}
		}
	}
	for j := i; j < len(pts); j++ {
		if pts[j].IsSync() {
			return pts[j], nil
		}
	}
	// No place to start decoding is left, but the index may still list a
	// tag: the end of sequence after the last keyframe, which yamdi's index
	// and ours hold. Players seek to every entry, so the file is served
	// from it, as the mod_flv modules would.
	if i < len(pts) {
		return pts[i], nil
	}
	return Point{}, ErrPastEnd
}

// tagStartBefore returns the last known tag start at or before foff: the
// point before pts[i], or the start of the segment holding foff, whichever
// is later. It is -1 when foff is before every tag.
func (s *Scan) tagStartBefore(pts []Point, i int, foff int64) int64 {
	from := int64(-1)
	if i > 0 {
		from = pts[i-1].Pos
	}
	segs := s.Segments
	j := sort.Search(len(segs), func(j int) bool { return segs[j].End > foff })
	if j < len(segs) && segs[j].Start <= foff {
		from = max(from, segs[j].Start)
	} else if j < len(segs) {
		from = max(from, segs[j].Start) // foff in a gap: the next segment
	}
	return from
}

// syncTag reports whether the tag is a place playback can start.
func (s *Scan) syncTag(h flv.TagHeader, body []byte) bool {
	switch {
	case s.HasVideo && h.Type == flv.TagVideo:
		v, err := flv.ParseVideo(body)
		return err == nil && v.Keyframe
	case !s.HasVideo && h.Type == flv.TagAudio:
		a, err := flv.ParseAudio(body)
		return err == nil && !a.SequenceHeader
	}
	return false
}

// CutAt finds the end of a clip that ends at ms: the first tag after
// first whose timestamp is ms or later. The walk starts at the last sync
// point before ms, and the index takes over if it is long.
func (s *Scan) CutAt(r io.ReaderAt, first Point, ms int64) (int64, error) {
	from := first.Pos
	pts := s.SyncPoints()
	for _, p := range pts {
		if p.Pos > first.Pos && int64(p.TS) < ms && p.IsSync() {
			from = p.Pos
		} else if p.Pos > first.Pos && int64(p.TS) >= ms {
			break
		}
	}
	p, found, err := s.walk(r, from, func(_ int64, h flv.TagHeader, _ []byte) bool {
		return int64(h.Timestamp) >= ms
	})
	if err != nil {
		return 0, err
	}
	if found {
		return p.Pos, nil
	}
	for _, p := range pts {
		if p.Pos > from && int64(p.TS) >= ms {
			return p.Pos, nil
		}
	}
	return s.DataEnd(), nil
}

// walk reads the tags from the tag start from on, in file order across
// segments, until stop accepts one or maxWalk tags were read. It returns
// the accepted tag as a point.
func (s *Scan) walk(r io.ReaderAt, from int64, stop func(pos int64, h flv.TagHeader, body []byte) bool) (Point, bool, error) {
	segs := s.Segments
	j := sort.Search(len(segs), func(j int) bool { return segs[j].End > from })
	w := &window{r: r, size: s.Size, buf: make([]byte, 4<<10)}
	pos := from
	for n := 0; n < maxWalk && j < len(segs); n++ {
		if pos >= segs[j].End {
			if j++; j == len(segs) {
				break
			}
			pos = segs[j].Start
		}
		b, err := w.peek(pos, flv.TagHeaderSize+probeSize)
		if err != nil {
			return Point{}, false, fmt.Errorf("read tag at %d: %w", pos, err)
		}
		h, ok := TagHeader(b)
		if !ok {
			// The scan checked these tags; the file changed since.
			return Point{}, false, fmt.Errorf("tag at %d: %w", pos, io.ErrUnexpectedEOF)
		}
		body := b[flv.TagHeaderSize:min(len(b), flv.TagHeaderSize+h.DataSize)]
		if stop(pos, h, body) {
			return Point{Pos: pos, TS: h.Timestamp, Kind: PointKeyframe}, true, nil
		}
		pos += int64(h.DataSize) + tagPrefix
	}
	return Point{}, false, nil
}
