package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/flvedge/flvedge/vfile"
)

// mergeGap is the largest stretch of unused stored bytes a clip sends
// rather than splitting its media data: the samples before the start of
// one track that lie between the first samples of others cost less than
// another part to send.
const mergeGap = 256 << 10

var typeSoun = Type{'s', 'o', 'u', 'n'}

// Clip returns a layout of the movie cut to [start, end): an MP4 file of
// its own, its movie box first, whose presentation starts with what the
// source presents at start. end of 0 or less means the end of the movie.
//
// Each track keeps the samples that the interval needs: video from the
// sync sample at or before start, so that decoding starts cleanly, and
// other tracks from the sample playing at start less their pre-roll (the
// 'roll' sample group, or one sample for sound without it: AAC needs the
// frame before to overlap with). An edit list hides what precedes start
// and what follows end, so that playback begins exactly at start. The
// source's edit lists (delays, cuts at the start such as AAC priming or
// B-frame reordering) map the interval into each track's media first, so
// tracks stay in sync; edit lists of several media segments or other rates
// than 1 are refused with [errors.ErrUnsupported], as are sample tables
// whose per-sample auxiliary data (encryption, sub-samples) this package
// cannot cut. Tracks with nothing in the interval are left out, and a clip
// with no track left gives [ErrOutOfRange].
//
// The work and memory are those of the samples kept, and of the tables'
// runs and chunks: the media data are ranges of the stored file.
func (f *File) Clip(start, end time.Duration) (*vfile.Layout, error) {
	if start < 0 || (end > 0 && end <= start) {
		return nil, fmt.Errorf("mp4: clip from %v to %v: %w", start, end, ErrOutOfRange)
	}
	movieTS := uint64(f.Timescale)
	from, to := rescale(uint64(start), uint64(time.Second), movieTS), uint64(math.MaxInt64)
	if end > 0 {
		to = rescale(uint64(end), uint64(time.Second), movieTS)
	}
	var cuts []*trackCut
	for _, t := range f.Tracks {
		c, err := cutTrack(t, movieTS, from, to)
		if err != nil {
			return nil, fmt.Errorf("mp4: clip: track %d: %w", t.ID, err)
		}
		if c != nil {
			cuts = append(cuts, c)
		}
	}
	if len(cuts) == 0 {
		return nil, fmt.Errorf("mp4: clip from %v: %w", start, ErrOutOfRange)
	}
	return f.clipLayout(cuts)
}

// trackCut is the part of a track that a clip keeps.
type trackCut struct {
	t        *Track
	from, to uint32 // samples
	// The clip's edit list: an empty edit of delay (none if 0), then the
	// media from mediaTime (media timescale, from the clip's first sample)
	// for length (movie timescale).
	delay, length uint64
	mediaTime     uint64
	chunks        []outChunk
	stco          *Box // filled in once offsets are known
}

// outChunk is a chunk of a clip: its bytes in the stored file, its samples.
type outChunk struct {
	src, size   int64
	count, desc uint32
}

// presentation reads a track's edit list as what this package can cut:
// after delay (movie timescale), the media presented from composition time
// start (media timescale) for length (movie timescale). A track that
// presents nothing has length 0.
func (t *Track) presentation(movieTS uint64) (delay, start, length uint64, err error) {
	st := t.Samples
	// Without an edit list the presentation is the composition timeline:
	// it ends with the latest composition time.
	mediaEnd := st.endTime() + uint64(st.maxOffset)
	media := false
	for i, e := range t.Edits {
		switch {
		case e.MediaTime == -1 && !media:
			delay += e.Duration
		case e.MediaTime == -1 && i == len(t.Edits)-1:
			// A trailing empty edit presents nothing more.
		case media:
			return 0, 0, 0, fmt.Errorf("edit list with %d segments: %w", len(t.Edits), errors.ErrUnsupported)
		case e.RateInteger != 1 || e.RateFraction != 0:
			return 0, 0, 0, fmt.Errorf("edit at rate %d.%04x: %w", e.RateInteger, uint16(e.RateFraction), errors.ErrUnsupported)
		case e.MediaTime > maxTime:
			return 0, 0, 0, fmt.Errorf("edit from media time %d: %w", e.MediaTime, ErrInvalid)
		default:
			media, start, length = true, uint64(e.MediaTime), e.Duration
		}
		if delay > maxTime {
			return 0, 0, 0, fmt.Errorf("empty edits of %d: %w", delay, ErrInvalid)
		}
	}
	if t.Edits != nil && !media {
		return delay, 0, 0, nil
	}
	if length == 0 && start < mediaEnd {
		// A zero duration is what some writers put for "the whole media".
		length = rescale(mediaEnd-start, uint64(t.Timescale), movieTS)
	}
	return delay, start, min(length, maxTime), nil
}

// cutTrack plans the part of t that the clip [from, to) (movie timescale)
// needs, or returns nil when t has nothing there.
func cutTrack(t *Track, movieTS, from, to uint64) (*trackCut, error) {
	st := t.Samples
	if st.n == 0 {
		return nil, nil
	}
	delay, mstart, length, err := t.presentation(movieTS)
	if err != nil {
		return nil, err
	}
	for _, b := range st.stbl.Children {
		switch b.Type {
		case typeSaiz, typeSaio, typeSubs:
			return nil, fmt.Errorf("cutting %s: %w", b.Type, errors.ErrUnsupported)
		}
	}
	// The part of the clip that the track presents, in movie time, and in
	// its media's composition times.
	a, b := max(from, delay), min(to, delay+length)
	if a >= b {
		return nil, nil
	}
	mediaTS := uint64(t.Timescale)
	cs := mstart + rescale(a-delay, movieTS, mediaTS)
	ce := mstart + rescale(b-delay, movieTS, mediaTS)
	if cs >= maxTime || ce >= maxTime {
		return nil, fmt.Errorf("edit list past 2^62: %w", ErrInvalid)
	}

	c := &trackCut{t: t}
	cts := func(i uint32) int64 {
		tm, _ := st.timeOf(i)
		return int64(tm) + int64(st.offsetOf(i))
	}
	switch {
	case st.syncs != nil && st.syncCount() > 0:
		// The last sync sample presented at or before cs: with closed GOPs
		// it precedes, in decoding order, every frame presented from cs.
		k := sort.Search(st.syncCount(), func(k int) bool { return cts(st.syncAt(k)) > int64(cs) }) - 1
		c.from = st.syncAt(max(k, 0))
	case st.syncs != nil:
		c.from = 0 // no sync sample at all: only the start can be decoded
	default:
		next := st.atTime(cs + 1)
		c.from = next - min(next, 1) // the sample playing at cs
	}
	roll := st.preRoll(c.from)
	if st.rollOf == nil && t.Handler == typeSoun {
		roll = 1
	}
	c.from -= min(c.from, roll)
	// Every sample presented before ce is decoded before ce (less the most
	// negative composition offset), and so is every sample it refers to.
	c.to = max(st.atTime(ce+uint64(-int64(st.minOffset))), c.from+1)

	base, _ := st.timeOf(c.from)
	c.length = b - a
	c.delay = a - from
	if cs >= base {
		c.mediaTime = cs - base
	} else {
		// The first sample kept is decoded after cs, which only negative
		// composition offsets allow: start the media there, later.
		late := rescale(base-cs, mediaTS, movieTS)
		c.delay += late
		c.length -= min(c.length, late)
	}
	c.chunks = st.chunksOf(c.from, c.to)
	return c, nil
}

// chunksOf returns the chunks of samples [from, to), the first and last
// cut to them.
func (t *SampleTable) chunksOf(from, to uint32) []outChunk {
	var out []outChunk
	run, chunk, first := t.chunkOf(from)
	for i := from; i < to; {
		r := t.runs[run]
		held := uint32(min(uint64(r.perChunk), uint64(t.n-first)))
		count := min(first+held, to) - i
		off := t.chunkOffset(chunk) + t.sizeSum(first, i-first)
		out = append(out, outChunk{src: int64(off), size: int64(t.sizeSum(i, count)), count: count, desc: r.description})
		i += count
		first += held
		if chunk++; chunk == r.end {
			run++
		}
	}
	return out
}

// span is a range of the stored file that a clip sends, and where it goes
// in the clip's media data.
type span struct{ src, end, dst int64 }

// spansOf returns the ranges of the stored file that hold the chunks, in
// file order, joined where they touch, overlap or lie less than mergeGap
// apart.
func spansOf(cuts []*trackCut) []span {
	var all []span
	for _, c := range cuts {
		for _, ch := range c.chunks {
			all = append(all, span{src: ch.src, end: ch.src + ch.size})
		}
	}
	slices.SortFunc(all, func(x, y span) int {
		switch {
		case x.src < y.src:
			return -1
		case x.src > y.src:
			return 1
		}
		return 0
	})
	var out []span
	var dst int64
	for _, s := range all {
		if k := len(out) - 1; k >= 0 && s.src-out[k].end <= mergeGap {
			if s.end > out[k].end {
				dst += s.end - out[k].end
				out[k].end = s.end
			}
			continue
		}
		s.dst = dst
		dst += s.end - s.src
		out = append(out, s)
	}
	return out
}

// mapOffset returns where the stored offset src, which lies in one of the
// spans, goes in the clip's media data.
func mapOffset(spans []span, src int64) int64 {
	k := sort.Search(len(spans), func(k int) bool { return spans[k].src > src }) - 1
	return spans[k].dst + src - spans[k].src
}

// clipLayout builds the clip's movie box and lays out the file: ftyp,
// moov, then an mdat of the spans.
func (f *File) clipLayout(cuts []*trackCut) (*vfile.Layout, error) {
	spans := spansOf(cuts)
	var payload int64
	for _, s := range spans {
		payload += s.end - s.src
	}
	mdatHdr := int64(8)
	if payload+8 > math.MaxUint32 {
		mdatHdr = 16
	}
	moov, err := f.clipMoov(cuts)
	if err != nil {
		return nil, err
	}
	var ftypSize int64
	if f.ftyp != nil {
		ftypSize = f.ftyp.Size()
	}
	// Chunk offsets point past the movie box, whose size depends on their
	// width: widen the tables that need it until nothing changes.
	wide := make([]bool, len(cuts))
	for {
		for i, c := range cuts {
			c.stco.Type, c.stco.Payload = chunkOffsetBox(c.chunks, wide[i], nil)
		}
		base := ftypSize + moov.Size() + mdatHdr
		changed := false
		for i, c := range cuts {
			for _, ch := range c.chunks {
				if !wide[i] && base+mapOffset(spans, ch.src) > math.MaxUint32 {
					wide[i], changed = true, true
					break
				}
			}
		}
		if !changed {
			for i, c := range cuts {
				c.stco.Type, c.stco.Payload = chunkOffsetBox(c.chunks, wide[i], func(src int64) int64 {
					return base + mapOffset(spans, src)
				})
			}
			break
		}
	}
	head := make([]byte, 0, ftypSize+moov.Size()+mdatHdr)
	if f.ftyp != nil {
		head = f.ftyp.Append(head)
	}
	head = appendMdatHeader(moov.Append(head), payload, mdatHdr)
	l := &vfile.Layout{}
	l.AddMem(head)
	for _, s := range spans {
		l.AddFile(s.src, s.end-s.src)
	}
	return l, nil
}

// appendMdatHeader appends the header of an mdat box holding payload bytes,
// of hdrLen 8 (32-bit size) or 16 (64-bit size).
func appendMdatHeader(b []byte, payload int64, hdrLen int64) []byte {
	if hdrLen == 16 {
		b = binary.BigEndian.AppendUint32(b, 1)
		b = append(b, typeMdat[:]...)
		return binary.BigEndian.AppendUint64(b, uint64(payload+16))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(payload+8))
	return append(b, typeMdat[:]...)
}

// chunkOffsetBox returns the type and payload of a chunk offset table:
// co64 if wide, else stco, with the offsets that where gives, or zeros.
func chunkOffsetBox(chunks []outChunk, wide bool, where func(int64) int64) (Type, []byte) {
	typ, width := typeStco, 4
	if wide {
		typ, width = typeCo64, 8
	}
	p := make([]byte, 8, 8+width*len(chunks))
	binary.BigEndian.PutUint32(p[4:], uint32(len(chunks)))
	for _, ch := range chunks {
		var off int64
		if where != nil {
			off = where(ch.src)
		}
		if wide {
			p = binary.BigEndian.AppendUint64(p, uint64(off))
		} else {
			p = binary.BigEndian.AppendUint32(p, uint32(off))
		}
	}
	return typ, p
}

// clipMoov builds the clip's movie box. Its chunk offset tables are empty
// boxes for clipLayout to fill.
func (f *File) clipMoov(cuts []*trackCut) (*Box, error) {
	byTrak := make(map[*Box]*trackCut, len(cuts))
	for _, c := range cuts {
		byTrak[c.t.box] = c
	}
	moov := NewContainer(typeMoov)
	var duration uint64
	for _, c := range cuts {
		duration = max(duration, c.delay+c.length)
	}
	for _, b := range f.Moov.Children {
		switch b.Type {
		case typeMvhd:
			b = withDuration(b, duration)
		case typeTrak:
			c := byTrak[b]
			if c == nil {
				continue // nothing of it in the clip
			}
			var err error
			if b, err = c.trak(); err != nil {
				return nil, fmt.Errorf("mp4: clip: track %d: %w", c.t.ID, err)
			}
		}
		moov.Children = append(moov.Children, b)
	}
	return moov, nil
}

// trak builds the track box of a cut: new durations, edit list and sample
// tables, everything else shared with the source.
func (c *trackCut) trak() (*Box, error) {
	src := c.t.box
	trak := NewContainer(typeTrak)
	edts := NewContainer(typeEdts, NewBox(typeElst, c.elst()))
	for _, b := range src.Children {
		switch {
		case b == c.t.tkhd:
			trak.Children = append(trak.Children, withDuration(b, c.delay+c.length))
			if src.Child(typeEdts) == nil {
				trak.Children = append(trak.Children, edts)
			}
			continue
		case b.Type == typeEdts:
			if b != src.Child(typeEdts) {
				continue
			}
			b = edts
		case b == c.t.mdia:
			var err error
			if b, err = c.mdia(b); err != nil {
				return nil, err
			}
		}
		trak.Children = append(trak.Children, b)
	}
	return trak, nil
}

// elst returns the payload of the cut's edit list, version 1 only if its
// values need 64 bits.
func (c *trackCut) elst() []byte {
	v1 := c.delay > math.MaxUint32 || c.length > math.MaxUint32 || c.mediaTime > math.MaxInt32
	p := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	if v1 {
		p[0] = 1
	}
	entry := func(d uint64, mt int64) {
		if v1 {
			p = binary.BigEndian.AppendUint64(p, d)
			p = binary.BigEndian.AppendUint64(p, uint64(mt))
		} else {
			p = binary.BigEndian.AppendUint32(p, uint32(d))
			p = binary.BigEndian.AppendUint32(p, uint32(int32(mt)))
		}
		p = append(p, 0, 1, 0, 0) // rate 1.0
		p[7]++
	}
	if c.delay > 0 {
		entry(c.delay, -1)
	}
	entry(c.length, int64(c.mediaTime))
	return p
}

func (c *trackCut) mdia(src *Box) (*Box, error) {
	st := c.t.Samples
	first, _ := st.timeOf(c.from)
	last := st.endTime()
	if c.to < st.n {
		last, _ = st.timeOf(c.to)
	}
	mdia := NewContainer(typeMdia)
	for _, b := range src.Children {
		switch b {
		case c.t.mdhd:
			b = withDuration(b, last-first)
		case c.t.minf:
			minf := NewContainer(typeMinf)
			for _, m := range b.Children {
				if m == st.stbl {
					stbl, err := c.stbl()
					if err != nil {
						return nil, err
					}
					m = stbl
				}
				minf.Children = append(minf.Children, m)
			}
			b = minf
		}
		mdia.Children = append(mdia.Children, b)
	}
	return mdia, nil
}

// stbl builds the cut's sample tables, in the order of the source's.
// Tables that only describe the samples as a whole (stsd, sgpd) are
// shared; optional per-sample hints that are not worth cutting (cslg,
// stps, stdp, padb, stsh) are left out.
func (c *trackCut) stbl() (*Box, error) {
	st := c.t.Samples
	stbl := NewContainer(typeStbl)
	tb := &st.boxes
	for _, b := range st.stbl.Children {
		switch b.Type {
		case typeStts, typeCtts, typeStss, typeStsz, typeStz2, typeStsc, typeStco, typeCo64:
			// Tables rebuilt from the ones parsed; a second of a kind
			// is left out.
			switch b {
			case tb.stts:
				b = NewBox(typeStts, st.cutTimes(c.from, c.to))
			case tb.ctts:
				b = NewBox(typeCtts, st.cutOffsets(b.Payload[0], c.from, c.to))
			case tb.stss:
				b = NewBox(typeStss, st.cutSyncs(c.from, c.to))
			case tb.sizes:
				b = NewBox(b.Type, st.cutSizes(c.from, c.to))
			case tb.stsc:
				b = NewBox(typeStsc, cutChunks(c.chunks))
			case tb.stco:
				c.stco = NewBox(typeStco, nil)
				b = c.stco
			default:
				continue
			}
		case typeSbgp:
			p, err := st.cutGroups(b, c.from, c.to)
			if err != nil {
				return nil, err
			}
			b = NewBox(typeSbgp, p)
		case typeSdtp:
			if len(b.Payload) < 4+int(st.n) {
				continue // too short to describe every sample: a hint lost
			}
			b = NewBox(typeSdtp, append(append([]byte(nil), b.Payload[:4]...), b.Payload[4+c.from:4+c.to]...))
		case typeCslg, typeStps, typeStdp, typePadb, typeStsh:
			continue
		}
		stbl.Children = append(stbl.Children, b)
	}
	return stbl, nil
}

// tableHead returns the start of a table payload: version, flags and room
// for the entry count, which setCount fills.
func tableHead(version byte, capacity int) []byte {
	p := make([]byte, 8, 8+capacity)
	p[0] = version
	return p
}

func setCount(p []byte, n int) { binary.BigEndian.PutUint32(p[4:], uint32(n)) }

func (t *SampleTable) cutTimes(from, to uint32) []byte {
	p := tableHead(0, 16)
	n := 0
	for k := t.timeRunOf(from); k < len(t.times) && t.times[k].first < to; k++ {
		r := t.times[k]
		count := min(r.first+r.count, to) - max(r.first, from)
		p = binary.BigEndian.AppendUint32(p, count)
		p = binary.BigEndian.AppendUint32(p, r.delta)
		n++
	}
	setCount(p, n)
	return p
}

func (t *SampleTable) cutOffsets(version byte, from, to uint32) []byte {
	p := tableHead(version, 16)
	n := 0
	k := sort.Search(len(t.offsets), func(k int) bool { return t.offsets[k].first > from }) - 1
	for ; k < len(t.offsets) && t.offsets[k].first < to; k++ {
		r := t.offsets[k]
		count := min(r.first+r.count, to) - max(r.first, from)
		p = binary.BigEndian.AppendUint32(p, count)
		p = binary.BigEndian.AppendUint32(p, uint32(r.offset))
		n++
	}
	setCount(p, n)
	return p
}

func (t *SampleTable) cutSyncs(from, to uint32) []byte {
	k0, k1 := t.syncIndex(from), t.syncIndex(to)
	p := tableHead(0, 4*(k1-k0))
	for k := k0; k < k1; k++ {
		p = binary.BigEndian.AppendUint32(p, t.syncAt(k)-from+1)
	}
	setCount(p, k1-k0)
	return p
}

// cutSizes returns the payload of an stsz or stz2 box (as the source has)
// for samples [from, to).
func (t *SampleTable) cutSizes(from, to uint32) []byte {
	n := to - from
	// stsz: version and flags, the constant size, the count; stz2: version
	// and flags, 24 reserved bits and the field size, the count.
	p := make([]byte, 12, 12+(uint64(n)*uint64(t.sizeBits)+7)/8)
	binary.BigEndian.PutUint32(p[8:], n)
	switch t.sizeBits {
	case 0:
		binary.BigEndian.PutUint32(p[4:], t.constSize)
	case 32:
		p = append(p, t.sizes[4*from:4*to]...)
	case 4:
		p[7] = 4
		for i := from; i < to; i += 2 {
			b := byte(t.size(i)) << 4
			if i+1 < to {
				b |= byte(t.size(i + 1))
			}
			p = append(p, b)
		}
	default:
		p[7] = byte(t.sizeBits)
		w := uint32(t.sizeBits / 8)
		p = append(p, t.sizes[w*from:w*to]...)
	}
	return p
}

// cutChunks returns the payload of the stsc box of a cut's chunks, runs of
// chunks alike in samples and description joined.
func cutChunks(chunks []outChunk) []byte {
	p := tableHead(0, 12)
	n := 0
	for i, ch := range chunks {
		if i > 0 && ch.count == chunks[i-1].count && ch.desc == chunks[i-1].desc {
			continue
		}
		p = binary.BigEndian.AppendUint32(p, uint32(i+1))
		p = binary.BigEndian.AppendUint32(p, ch.count)
		p = binary.BigEndian.AppendUint32(p, ch.desc)
		n++
	}
	setCount(p, n)
	return p
}

// cutGroups returns the payload of an sbgp box cut to samples [from, to).
func (t *SampleTable) cutGroups(b *Box, from, to uint32) ([]byte, error) {
	v, _, err := fullBox(b, 4)
	if err != nil {
		return nil, err
	}
	runs, err := t.groupRuns(b, v)
	if err != nil {
		return nil, fmt.Errorf("sbgp: %w", err)
	}
	head := 8 // version, flags, grouping_type
	if v == 1 {
		head = 12
	}
	p := append(make([]byte, 0, head+4+8*len(runs)), b.Payload[:head]...)
	p = append(p, 0, 0, 0, 0)
	n := 0
	for _, r := range runs {
		if r.first+r.count <= from || r.first >= to {
			continue
		}
		p = binary.BigEndian.AppendUint32(p, min(r.first+r.count, to)-max(r.first, from))
		p = binary.BigEndian.AppendUint32(p, r.index)
		n++
	}
	binary.BigEndian.PutUint32(p[head:], uint32(n))
	return p, nil
}
