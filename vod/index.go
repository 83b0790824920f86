package vod

import (
	"io"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/flv/index"
)

// fileIndex is everything needed to serve one version of a stored FLV
// file. One scan builds it; every request for that version shares it.
type fileIndex struct {
	s *index.Scan
	// plain is set when the file is served as it is stored: it is clean,
	// and its onMetaData has a keyframe index that matches its tags and a
	// duration. Then the sendfile path serves it untouched.
	plain bool
	// whole is the file as clients see it without seeking: the stored
	// file, or a virtual file with a new onMetaData carrying the index.
	whole layout
	// wholeMeta is whole's onMetaData tag, which ?start= responses send
	// again; nil when there is none (a plain file's, too large to read).
	wholeMeta []byte
	head      []byte // the FLV header of virtual files, with PreviousTagSize0
	base      baseMeta
	cost      int64 // bytes of memory held, for the cache
}

// buildIndex decides how a scanned file is served and lays out its whole
// view.
func buildIndex(s *index.Scan) *fileIndex {
	ix := &fileIndex{s: s, head: flv.AppendHeader(nil, s.HasAudio, s.HasVideo)}
	facts := readMeta(s.MetaBody, s.Want)
	ix.base = facts.base
	if s.Clean() && facts.Duration > 0 && facts.HasKeyIndex && s.IndexMatches(facts.Positions) {
		ix.plain = true
		ix.whole.addFile(0, s.Size, false, 0)
		if s.MetaBody != nil {
			ix.wholeMeta = flv.AppendTag(nil, flv.Tag{Type: flv.TagScript, Data: s.MetaBody})
		}
	} else {
		pts := ix.s.IndexPoints()
		ix.whole.addMem(ix.head)
		metaAt := len(ix.whole.parts)
		ix.whole.addMem(make([]byte, metaTagSize(ix.base, len(pts))))
		ix.whole.addSpans(s.Segments, 0, s.Size, s.Meta, false, 0)
		m := ix.metaFor(&ix.whole, pts, 0, -1)
		m.duration = float64(s.EndTs) / 1000
		ix.wholeMeta = appendMetaTag(nil, ix.base, m)
		ix.whole.parts[metaAt].mem = ix.wholeMeta
	}
	s.MetaBody = nil // what is needed of it is in base and wholeMeta
	ix.cost = 512 + int64(len(ix.wholeMeta)+len(ix.base.props)) +
		int64(cap(s.Video)+cap(s.Audio))*16 + int64(len(s.Segments)+len(ix.whole.parts))*64
	for _, list := range [][]index.SeqHeader{s.SeqVideo, s.SeqAudio} {
		for _, h := range list {
			ix.cost += int64(len(h.Body)) + 32
		}
	}
	return ix
}

// inMemory marks the index entry of a sequence header that a clip sends
// from memory, before its first stored tag.
const inMemory = -1

// metaFor fills the index of the onMetaData of l: the positions in l of
// pts, ordered stored tags that l's file parts hold, and their times less
// shift. The entry inMemory takes the position seqPos. Callers pass only
// points that have a place, so that the index has the length the layout
// reserved for it.
func (ix *fileIndex) metaFor(l *layout, pts []index.Point, shift uint32, seqPos int64) metaInfo {
	m := metaInfo{filesize: l.size, hasAudio: ix.s.HasAudio, hasVideo: ix.s.HasVideo}
	m.positions = make([]int64, len(pts))
	m.times = make([]float64, len(pts))
	k := 0
	for i, p := range pts {
		m.times[i] = float64(max(p.TS, shift)-shift) / 1000
		if p.Pos == inMemory {
			m.positions[i] = seqPos
			continue
		}
		for k < len(l.parts) && (l.parts[k].mem != nil || l.parts[k].foff+l.parts[k].n <= p.Pos) {
			k++
		}
		if k < len(l.parts) {
			m.positions[i] = l.parts[k].off + p.Pos - l.parts[k].foff
		}
	}
	return m
}

// seqTags appends the sequence header tags that apply at stored offset
// pos, stamped ts, and returns where in dst the one that heads an index
// starts (the video one, or the audio one without video), -1 when there is
// none.
func (ix *fileIndex) seqTags(dst []byte, pos int64, ts uint32) ([]byte, int) {
	at := -1
	if h, ok := index.LastBefore(ix.s.SeqVideo, pos); ok {
		at = len(dst)
		dst = flv.AppendTag(dst, flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: h.Body})
	}
	if h, ok := index.LastBefore(ix.s.SeqAudio, pos); ok {
		if !ix.s.HasVideo {
			at = len(dst)
		}
		dst = flv.AppendTag(dst, flv.Tag{Type: flv.TagAudio, Timestamp: ts, Data: h.Body})
	}
	return dst, at
}

// startLayout is the mod_flv contract, made playable: for a byte offset
// into the whole view, the FLV header, the whole view's onMetaData, the
// sequence headers, and the stored tags from the first keyframe at or
// after the offset (the first audio frame, without video). Timestamps stay
// those of the file, as pseudo-streaming players expect.
func (ix *fileIndex) startLayout(r io.ReaderAt, off int64) (layout, index.Point, error) {
	var l layout
	foff, ok := ix.whole.stored(off)
	if !ok {
		return l, index.Point{}, index.ErrPastEnd
	}
	p, err := ix.s.NextSync(r, foff)
	if err != nil {
		return l, index.Point{}, err
	}
	l.addMem(ix.head)
	l.addMem(ix.wholeMeta)
	seq, _ := ix.seqTags(nil, p.Pos, p.TS)
	l.addMem(seq)
	if ix.plain {
		l.addFile(p.Pos, ix.s.Size, false, 0)
	} else {
		l.addSpans(ix.s.Segments, p.Pos, ix.s.Size, ix.s.Meta, false, 0)
	}
	return l, p, nil
}

// clipLayout is a virtual clip for ?t=: from the keyframe at or before
// start (ms) to the last tag before end (ms; negative: to the end), with
// timestamps from zero and an onMetaData of its own.
func (ix *fileIndex) clipLayout(r io.ReaderAt, start, end int64) (layout, index.Point, int64, error) {
	var l layout
	s := ix.s
	if start >= int64(s.EndTs) && start > 0 {
		return l, index.Point{}, 0, index.ErrPastEnd
	}
	first, err := ix.s.SyncAtOrBefore(r, start)
	if err != nil {
		return l, index.Point{}, 0, err
	}
	cut := s.DataEnd()
	endTs := int64(s.EndTs)
	if end >= 0 && end < endTs {
		if cut, err = ix.s.CutAt(r, first, end); err != nil {
			return l, index.Point{}, 0, err
		}
		endTs = end
	}
	seq, at := ix.seqTags(nil, first.Pos, 0)
	pts := ix.clipPoints(first.Pos, cut, at >= 0)
	l.addMem(ix.head)
	metaAt := len(l.parts)
	l.addMem(make([]byte, metaTagSize(ix.base, len(pts))))
	seqPos := l.size + int64(at)
	l.addMem(seq)
	l.addSpans(s.Segments, first.Pos, cut, s.Meta, true, first.TS)
	m := ix.metaFor(&l, pts, first.TS, seqPos)
	m.duration = float64(max(endTs-int64(first.TS), 0)) / 1000
	l.parts[metaAt].mem = appendMetaTag(nil, ix.base, m)
	return l, first, cut, nil
}

// clipPoints are the index entries of a clip of [from, to): its sequence
// header when it has one, sent before from, then the stored points in
// range. Only valid tags are points, so every one has a place in the clip.
func (ix *fileIndex) clipPoints(from, to int64, seq bool) []index.Point {
	var pts []index.Point
	if seq {
		pts = append(pts, index.Point{Pos: inMemory, Kind: index.PointSeqHeader})
	}
	for _, p := range ix.s.IndexSource() {
		if p.Pos >= from && p.Pos < to {
			pts = append(pts, p)
		}
	}
	return pts
}
