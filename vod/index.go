package vod

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/vfile"
)

// errPastEnd is returned for a seek to an offset or a time after the last
// place where playback can start.
var errPastEnd = errors.New("past the end")

// maxWalk bounds the tags one request reads on its own, beyond the index:
// the walk from a thinned seek point to an exact one, or to a clip's end.
const maxWalk = 1 << 14

// fileIndex is everything needed to serve one version of a stored FLV
// file. One scan builds it; every request for that version shares it.
type fileIndex struct {
	s *scan
	// plain is set when the file is served as it is stored: it is clean,
	// and its onMetaData has a keyframe index that matches its tags and a
	// duration. Then the sendfile path serves it untouched.
	plain bool
	// whole is the file as clients see it without seeking: the stored
	// file, or a virtual file with a new onMetaData carrying the index.
	whole vfile.Layout
	// wholeMeta is whole's onMetaData tag, which ?start= responses send
	// again; nil when there is none (a plain file's, too large to read).
	wholeMeta []byte
	head      []byte // the FLV header of virtual files, with PreviousTagSize0
	base      baseMeta
	cost      int64 // bytes of memory held, for the cache
}

// buildIndex decides how a scanned file is served and lays out its whole
// view.
func buildIndex(s *scan) *fileIndex {
	ix := &fileIndex{s: s, head: flv.AppendHeader(nil, s.hasAudio, s.hasVideo)}
	facts := readMeta(s.metaBody, s.want)
	ix.base = facts.base
	if s.clean() && facts.duration > 0 && facts.hasKeyIndex && ix.indexMatches(facts.positions) {
		ix.plain = true
		ix.whole.AddFile(0, s.size)
		if s.metaBody != nil {
			ix.wholeMeta = flv.AppendTag(nil, flv.Tag{Type: flv.TagScript, Data: s.metaBody})
		}
	} else {
		pts := ix.indexPoints()
		ix.whole.AddMem(ix.head)
		metaAt := len(ix.whole.Parts())
		ix.whole.AddMem(make([]byte, metaTagSize(ix.base, len(pts))))
		addSpans(&ix.whole, s.segments, 0, s.size, s.meta, nil)
		m := ix.metaFor(&ix.whole, pts, 0, -1)
		m.duration = float64(s.endTs) / 1000
		ix.wholeMeta = appendMetaTag(nil, ix.base, m)
		ix.whole.SetMem(metaAt, ix.wholeMeta)
	}
	s.metaBody = nil // what is needed of it is in base and wholeMeta
	ix.cost = 512 + int64(len(ix.wholeMeta)+len(ix.base.props)) +
		int64(cap(s.video)+cap(s.audio))*16 + int64(len(s.segments)+len(ix.whole.Parts()))*64
	for _, list := range [][]seqHeader{s.seqVideo, s.seqAudio} {
		for _, h := range list {
			ix.cost += int64(len(h.body)) + 32
		}
	}
	return ix
}

// indexMatches reports whether every stored keyframe position is a tag of
// keyframe type, as the scan found them. A stale index (the file was cut or
// remuxed after indexing) sends players to the wrong bytes, so such a file
// is served with a new one.
func (ix *fileIndex) indexMatches(positions []float64) bool {
	if ix.s.videoStride > 1 {
		return true // not every keyframe is known: trust the file
	}
	known := ix.s.video
	if !ix.s.hasVideo {
		return false
	}
	for _, p := range positions {
		i := sort.Search(len(known), func(i int) bool { return float64(known[i].pos) >= p })
		if i == len(known) || float64(known[i].pos) != p {
			return false
		}
	}
	return true
}

// indexPoints are the entries of the whole file's keyframe index: every
// video tag of keyframe type, as yamdi writes it (the sequence header
// first, which mpegts.js and flv.js skip knowing it is there). A file
// without video gets its audio points, after its audio sequence header.
// Every one is a valid tag, so every one has a place in the whole view.
func (ix *fileIndex) indexPoints() []point {
	var out []point
	if !ix.s.hasVideo && len(ix.s.audio) > 0 {
		if h, ok := lastBefore(ix.s.seqAudio, ix.s.audio[0].pos); ok {
			out = append(out, point{pos: h.pos, kind: pointSeqHeader})
		}
	}
	return append(out, ix.s.indexSource()...)
}

// indexSource is the list index entries come from.
func (s *scan) indexSource() []point {
	if s.hasVideo {
		return s.video
	}
	return s.audio
}

// lastBefore returns the last sequence header stored before pos.
func lastBefore(list []seqHeader, pos int64) (seqHeader, bool) {
	i := sort.Search(len(list), func(i int) bool { return list[i].pos >= pos })
	if i == 0 {
		return seqHeader{}, false
	}
	return list[i-1], true
}

// inMemory marks the index entry of a sequence header that a clip sends
// from memory, before its first stored tag.
const inMemory = -1

// metaFor fills the index of the onMetaData of l: the positions in l of
// pts, ordered stored tags that l's file parts hold, and their times less
// shift. The entry inMemory takes the position seqPos. Callers pass only
// points that have a place, so that the index has the length the layout
// reserved for it.
func (ix *fileIndex) metaFor(l *vfile.Layout, pts []point, shift uint32, seqPos int64) metaInfo {
	m := metaInfo{filesize: l.Size(), hasAudio: ix.s.hasAudio, hasVideo: ix.s.hasVideo}
	m.positions = make([]int64, len(pts))
	m.times = make([]float64, len(pts))
	k, parts := 0, l.Parts()
	for i, p := range pts {
		m.times[i] = float64(max(p.ts, shift)-shift) / 1000
		if p.pos == inMemory {
			m.positions[i] = seqPos
			continue
		}
		for k < len(parts) && (parts[k].Mem != nil || parts[k].Src+parts[k].Len <= p.pos) {
			k++
		}
		if k < len(parts) {
			m.positions[i] = parts[k].Off + p.pos - parts[k].Src
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
	if h, ok := lastBefore(ix.s.seqVideo, pos); ok {
		at = len(dst)
		dst = flv.AppendTag(dst, flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: h.body})
	}
	if h, ok := lastBefore(ix.s.seqAudio, pos); ok {
		if !ix.s.hasVideo {
			at = len(dst)
		}
		dst = flv.AppendTag(dst, flv.Tag{Type: flv.TagAudio, Timestamp: ts, Data: h.body})
	}
	return dst, at
}

// startLayout is the mod_flv contract, made playable: for a byte offset
// into the whole view, the FLV header, the whole view's onMetaData, the
// sequence headers, and the stored tags from the first keyframe at or
// after the offset (the first audio frame, without video). Timestamps stay
// those of the file, as pseudo-streaming players expect.
func (ix *fileIndex) startLayout(r io.ReaderAt, off int64) (*vfile.Layout, point, error) {
	l := &vfile.Layout{}
	foff, ok := ix.whole.Stored(off)
	if !ok {
		return l, point{}, errPastEnd
	}
	p, err := ix.nextSync(r, foff)
	if err != nil {
		return l, point{}, err
	}
	l.AddMem(ix.head)
	l.AddMem(ix.wholeMeta)
	seq, _ := ix.seqTags(nil, p.pos, p.ts)
	l.AddMem(seq)
	if ix.plain {
		l.AddFile(p.pos, ix.s.size-p.pos)
	} else {
		addSpans(l, ix.s.segments, p.pos, ix.s.size, ix.s.meta, nil)
	}
	return l, p, nil
}

// clipLayout is a virtual clip for ?t=: from the keyframe at or before
// start (ms) to the last tag before end (ms; negative: to the end), with
// timestamps from zero and an onMetaData of its own.
func (ix *fileIndex) clipLayout(r io.ReaderAt, start, end int64) (*vfile.Layout, point, int64, error) {
	l := &vfile.Layout{}
	s := ix.s
	if start >= int64(s.endTs) && start > 0 {
		return l, point{}, 0, errPastEnd
	}
	first, err := ix.syncAtOrBefore(r, start)
	if err != nil {
		return l, point{}, 0, err
	}
	cut := s.dataEnd()
	endTs := int64(s.endTs)
	if end >= 0 && end < endTs {
		if cut, err = ix.cutAt(r, first, end); err != nil {
			return l, point{}, 0, err
		}
		endTs = end
	}
	seq, at := ix.seqTags(nil, first.pos, 0)
	pts := ix.clipPoints(first.pos, cut, at >= 0)
	l.AddMem(ix.head)
	metaAt := len(l.Parts())
	l.AddMem(make([]byte, metaTagSize(ix.base, len(pts))))
	seqPos := l.Size() + int64(at)
	l.AddMem(seq)
	addSpans(l, s.segments, first.pos, cut, s.meta, ix.retimer(first.ts))
	m := ix.metaFor(l, pts, first.ts, seqPos)
	m.duration = float64(max(endTs-int64(first.ts), 0)) / 1000
	l.SetMem(metaAt, appendMetaTag(nil, ix.base, m))
	return l, first, cut, nil
}

// clipPoints are the index entries of a clip of [from, to): its sequence
// header when it has one, sent before from, then the stored points in
// range. Only valid tags are points, so every one has a place in the clip.
func (ix *fileIndex) clipPoints(from, to int64, seq bool) []point {
	var pts []point
	if seq {
		pts = append(pts, point{pos: inMemory, kind: pointSeqHeader})
	}
	for _, p := range ix.s.indexSource() {
		if p.pos >= from && p.pos < to {
			pts = append(pts, p)
		}
	}
	return pts
}

// syncAtOrBefore finds where a clip starting at ms begins: the last sync
// point whose time is at or before ms, in file order up to the first one
// after it; the first sync point when ms is before all of them. Where the
// index does not hold every sync point (audio has one a second), the tags
// after the point found are read for a later one.
func (ix *fileIndex) syncAtOrBefore(r io.ReaderAt, ms int64) (point, error) {
	var best point
	found := false
	for _, p := range ix.s.syncPoints() {
		if !ix.isSync(p) {
			continue
		}
		if found && int64(p.ts) > ms {
			break
		}
		best, found = p, true
	}
	if !found {
		return point{}, errPastEnd
	}
	if !ix.s.thinned() || int64(best.ts) >= ms {
		return best, nil
	}
	_, _, err := ix.walk(r, best.pos, func(pos int64, h tagHeader, body []byte) bool {
		if !ix.syncTag(h, body) {
			return false
		}
		if int64(h.ts) > ms {
			return true
		}
		best = point{pos: pos, ts: h.ts, kind: best.kind}
		return false
	})
	return best, err
}

func (ix *fileIndex) isSync(p point) bool {
	return p.kind == pointKeyframe || p.kind == pointAudio
}

// nextSync finds the first sync point at or after stored offset foff. The
// index answers when it holds every keyframe; otherwise the tags after the
// last point before foff are read until one is a sync point.
func (ix *fileIndex) nextSync(r io.ReaderAt, foff int64) (point, error) {
	pts := ix.s.syncPoints()
	i := sort.Search(len(pts), func(i int) bool { return pts[i].pos >= foff })
	if ix.s.thinned() {
		from := ix.tagStartBefore(pts, i, foff)
		if from >= 0 {
			p, found, err := ix.walk(r, from, func(pos int64, h tagHeader, body []byte) bool {
				return pos >= foff && ix.syncTag(h, body)
			})
			if err != nil {
				return point{}, err
			}
			if found {
				return p, nil
			}
		}
	}
	for j := i; j < len(pts); j++ {
		if ix.isSync(pts[j]) {
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
	return point{}, errPastEnd
}

// tagStartBefore returns the last known tag start at or before foff: the
// point before pts[i], or the start of the segment holding foff, whichever
// is later. It is -1 when foff is before every tag.
func (ix *fileIndex) tagStartBefore(pts []point, i int, foff int64) int64 {
	from := int64(-1)
	if i > 0 {
		from = pts[i-1].pos
	}
	segs := ix.s.segments
	j := sort.Search(len(segs), func(j int) bool { return segs[j].end > foff })
	if j < len(segs) && segs[j].start <= foff {
		from = max(from, segs[j].start)
	} else if j < len(segs) {
		from = max(from, segs[j].start) // foff in a gap: the next segment
	}
	return from
}

// syncTag reports whether the tag is a place playback can start.
func (ix *fileIndex) syncTag(h tagHeader, body []byte) bool {
	switch {
	case ix.s.hasVideo && h.typ == flv.TagVideo:
		v, err := flv.ParseVideo(body)
		return err == nil && v.Keyframe
	case !ix.s.hasVideo && h.typ == flv.TagAudio:
		a, err := flv.ParseAudio(body)
		return err == nil && !a.SequenceHeader
	}
	return false
}

// cutAt finds the end of a clip that ends at ms: the first tag after
// first whose timestamp is ms or later. The walk starts at the last sync
// point before ms, and the index takes over if it is long.
func (ix *fileIndex) cutAt(r io.ReaderAt, first point, ms int64) (int64, error) {
	from := first.pos
	pts := ix.s.syncPoints()
	for _, p := range pts {
		if p.pos > first.pos && int64(p.ts) < ms && ix.isSync(p) {
			from = p.pos
		} else if p.pos > first.pos && int64(p.ts) >= ms {
			break
		}
	}
	p, found, err := ix.walk(r, from, func(_ int64, h tagHeader, _ []byte) bool {
		return int64(h.ts) >= ms
	})
	if err != nil {
		return 0, err
	}
	if found {
		return p.pos, nil
	}
	for _, p := range pts {
		if p.pos > from && int64(p.ts) >= ms {
			return p.pos, nil
		}
	}
	return ix.s.dataEnd(), nil
}

// walk reads the tags from the tag start from on, in file order across
// segments, until stop accepts one or maxWalk tags were read. It returns
// the accepted tag as a point.
func (ix *fileIndex) walk(r io.ReaderAt, from int64, stop func(pos int64, h tagHeader, body []byte) bool) (point, bool, error) {
	segs := ix.s.segments
	j := sort.Search(len(segs), func(j int) bool { return segs[j].end > from })
	w := &window{r: r, size: ix.s.size, buf: make([]byte, 4<<10)}
	pos := from
	for n := 0; n < maxWalk && j < len(segs); n++ {
		if pos >= segs[j].end {
			if j++; j == len(segs) {
				break
			}
			pos = segs[j].start
		}
		b, err := w.peek(pos, flv.TagHeaderSize+probeSize)
		if err != nil {
			return point{}, false, fmt.Errorf("read tag at %d: %w", pos, err)
		}
		h, ok := parseTagHeader(b)
		if !ok {
			// The scan checked these tags; the file changed since.
			return point{}, false, fmt.Errorf("tag at %d: %w", pos, io.ErrUnexpectedEOF)
		}
		body := b[flv.TagHeaderSize:min(len(b), flv.TagHeaderSize+h.size)]
		if stop(pos, h, body) {
			return point{pos: pos, ts: h.ts, kind: pointKeyframe}, true, nil
		}
		pos += int64(h.size) + tagPrefix
	}
	return point{}, false, nil
}
