package mp4

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// Sample is what a sample table says of one sample.
type Sample struct {
	// Time is the decoding time, in the track's timescale, from the start
	// of the media.
	Time uint64
	// Duration is the time to the next sample's decoding time.
	Duration uint32
	// CompositionOffset is the presentation time less the decoding time.
	CompositionOffset int32
	Size              uint32
	// Offset is where the sample's bytes start in the file.
	Offset int64
	// Keyframe is true for a sync sample: decoding can start there.
	Keyframe bool
	// Description is the 1-based index of the sample's entry in stsd.
	Description uint32
}

// SampleTable is the view of a track's sample table (stbl): for each sample
// its time, duration, composition offset, size, place in the file and
// whether it is a keyframe. The tables are kept as they are stored, run by
// run, with an index of where each run starts, so that a table costs about
// the bytes of its boxes whatever the number of samples it claims, any
// sample is found in logarithmic time, and the next in constant time.
type SampleTable struct {
	stbl  *Box
	boxes struct{ stts, ctts, stss, sizes, stsc, stco *Box } // the tables parsed
	n     uint32                                             // samples

	// stsz or stz2: one size for all, or a field of sizeBits per sample.
	constSize uint32
	sizeBits  int
	sizes     []byte

	times     []timeRun
	offsets   []offsetRun // ctts; nil when absent (all zero)
	minOffset int32       // least composition offset, or 0
	maxOffset int32       // greatest composition offset, or 0

	syncs []byte // stss entries; nil when every sample is a sync sample

	chunkWide bool   // co64
	chunks    []byte // stco or co64 entries
	runs      []chunkRun

	roll   []int16    // pre-roll distances of the 'roll' sample group entries
	rollOf []groupRun // samples → 1-based roll entry, 0 for none
}

type timeRun struct {
	first uint32 // first sample of the run
	count uint32
	delta uint32
	time  uint64 // decoding time of the first sample
}

type offsetRun struct {
	first  uint32
	count  uint32
	offset int32
}

// chunkRun is an entry of stsc stretched over the chunks it covers.
type chunkRun struct {
	chunk, end  uint32 // chunks [chunk, end), 0-based
	perChunk    uint32
	description uint32
	first       uint64 // first sample of the run
}

type groupRun struct {
	first, count uint32
	index        uint32
}

// Len returns the number of samples.
func (t *SampleTable) Len() uint32 { return t.n }

// memSize estimates the memory the table holds beyond its boxes' bytes.
func (t *SampleTable) memSize() int64 {
	return 256 + int64(len(t.times))*24 + int64(len(t.offsets))*12 + int64(len(t.runs))*24 + int64(len(t.rollOf))*12
}

// ParseSampleTable reads a sample table box. Every chunk must end within
// fileSize bytes. The table keeps references to stbl's bytes.
func ParseSampleTable(stbl *Box, fileSize int64) (*SampleTable, error) {
	t := &SampleTable{stbl: stbl}
	find := func(types ...Type) *Box {
		for _, c := range stbl.Children {
			if slices.Contains(types, c.Type) {
				return c
			}
		}
		return nil
	}
	b := &t.boxes
	b.sizes, b.stts, b.ctts = find(typeStsz, typeStz2), find(typeStts), find(typeCtts)
	b.stss, b.stsc, b.stco = find(typeStss), find(typeStsc), find(typeStco, typeCo64)
	if b.sizes == nil || b.stts == nil || b.stsc == nil || b.stco == nil {
		return nil, fmt.Errorf("stsz or stz2, stts, stsc and stco or co64 are all needed: %w", ErrInvalid)
	}
	if err := t.parseSizes(b.sizes); err != nil {
		return nil, err
	}
	if err := t.parseTimes(b.stts); err != nil {
		return nil, err
	}
	if b.ctts != nil {
		if err := t.parseOffsets(b.ctts); err != nil {
			return nil, err
		}
	}
	if b.stss != nil {
		if err := t.parseSyncs(b.stss); err != nil {
			return nil, err
		}
	}
	if err := t.parseChunks(b.stsc, b.stco, fileSize); err != nil {
		return nil, err
	}
	if err := t.parseRoll(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *SampleTable) parseSizes(b *Box) error {
	if b.Type == typeStsz {
		_, body, err := fullBox(b, 8)
		if err != nil {
			return err
		}
		t.constSize = binary.BigEndian.Uint32(body)
		t.n = binary.BigEndian.Uint32(body[4:])
		if t.constSize != 0 {
			return nil
		}
		t.sizeBits = 32
		t.sizes = body[8:]
	} else {
		_, body, err := fullBox(b, 8)
		if err != nil {
			return err
		}
		t.sizeBits = int(body[3])
		if t.sizeBits != 4 && t.sizeBits != 8 && t.sizeBits != 16 {
			return fmt.Errorf("stz2: field size %d: %w", t.sizeBits, ErrInvalid)
		}
		t.n = binary.BigEndian.Uint32(body[4:])
		t.sizes = body[8:]
	}
	need := (uint64(t.n)*uint64(t.sizeBits) + 7) / 8
	if need > uint64(len(t.sizes)) {
		return fmt.Errorf("%s: %d samples claimed in %d bytes: %w", b.Type, t.n, len(t.sizes), ErrInvalid)
	}
	t.sizes = t.sizes[:need]
	return nil
}

// size returns the size of sample i (< n).
func (t *SampleTable) size(i uint32) uint32 {
	switch t.sizeBits {
	case 0:
		return t.constSize
	case 32:
		return binary.BigEndian.Uint32(t.sizes[4*i:])
	case 16:
		return uint32(binary.BigEndian.Uint16(t.sizes[2*i:]))
	case 8:
		return uint32(t.sizes[i])
	}
	b := t.sizes[i/2]
	if i%2 == 0 {
		return uint32(b >> 4)
	}
	return uint32(b & 15)
}

// sizeSum returns the bytes of samples [i, i+count). It costs a step per
// sample only when sizes vary, that is when the table stores them one by
// one.
func (t *SampleTable) sizeSum(i, count uint32) uint64 {
	if t.sizeBits == 0 {
		return uint64(count) * uint64(t.constSize)
	}
	var sum uint64
	for k := i; k < i+count; k++ {
		sum += uint64(t.size(k))
	}
	return sum
}

// maxTime bounds decoding times, so that sums of them and conversions
// between timescales never overflow.
const maxTime = 1 << 62

func (t *SampleTable) parseTimes(b *Box) error {
	n, e, err := tableBody(b, 0, 8)
	if err != nil {
		return err
	}
	var first, time uint64
	for i := 0; i < n && first < uint64(t.n); i++ {
		count := uint64(binary.BigEndian.Uint32(e[8*i:]))
		delta := binary.BigEndian.Uint32(e[8*i+4:])
		count = min(count, uint64(t.n)-first)
		if count == 0 {
			continue
		}
		hi, span := bits.Mul64(count, uint64(delta))
		if hi != 0 || span > maxTime-time {
			return fmt.Errorf("stts: decoding times past 2^62: %w", ErrInvalid)
		}
		t.times = append(t.times, timeRun{first: uint32(first), count: uint32(count), delta: delta, time: time})
		first += count
		time += span
	}
	if first < uint64(t.n) {
		return fmt.Errorf("stts: %d of %d samples: %w", first, t.n, ErrInvalid)
	}
	return nil
}

func (t *SampleTable) parseOffsets(b *Box) error {
	n, e, err := tableBody(b, 0, 8)
	if err != nil {
		return err
	}
	// Version 0 offsets are unsigned in the standard but written negative
	// by some muxers; both versions are read as signed, as players do.
	var first uint64
	for i := 0; i < n && first < uint64(t.n); i++ {
		count := min(uint64(binary.BigEndian.Uint32(e[8*i:])), uint64(t.n)-first)
		off := int32(binary.BigEndian.Uint32(e[8*i+4:]))
		if count == 0 {
			continue
		}
		t.offsets = append(t.offsets, offsetRun{first: uint32(first), count: uint32(count), offset: off})
		t.minOffset, t.maxOffset = min(t.minOffset, off), max(t.maxOffset, off)
		first += count
	}
	if first < uint64(t.n) {
		return fmt.Errorf("ctts: %d of %d samples: %w", first, t.n, ErrInvalid)
	}
	return nil
}

func (t *SampleTable) parseSyncs(b *Box) error {
	n, e, err := tableBody(b, 0, 4)
	if err != nil {
		return err
	}
	prev := uint32(0)
	for i := range n {
		s := binary.BigEndian.Uint32(e[4*i:])
		if s <= prev || s > t.n {
			return fmt.Errorf("stss: entry %d is sample %d after %d, of %d: %w", i, s, prev, t.n, ErrInvalid)
		}
		prev = s
	}
	t.syncs = e // not nil even when empty: a track without a sync sample
	return nil
}

// chunkOffset returns the file offset of chunk c (< number of chunks).
func (t *SampleTable) chunkOffset(c uint32) uint64 {
	if t.chunkWide {
		return binary.BigEndian.Uint64(t.chunks[8*c:])
	}
	return uint64(binary.BigEndian.Uint32(t.chunks[4*c:]))
}

func (t *SampleTable) parseChunks(stsc, stco *Box, fileSize int64) error {
	width := 4
	if stco.Type == typeCo64 {
		width, t.chunkWide = 8, true
	}
	nChunks, chunks, err := tableBody(stco, 0, width)
	if err != nil {
		return err
	}
	t.chunks = chunks
	n, e, err := tableBody(stsc, 0, 12)
	if err != nil {
		return err
	}
	var first uint64
	for i := 0; i < n && first < uint64(t.n); i++ {
		chunk := binary.BigEndian.Uint32(e[12*i:])
		per := binary.BigEndian.Uint32(e[12*i+4:])
		desc := binary.BigEndian.Uint32(e[12*i+8:])
		end := uint64(nChunks) + 1
		if i+1 < n {
			end = min(end, uint64(binary.BigEndian.Uint32(e[12*i+12:])))
		}
		if chunk == 0 || (i == 0 && chunk != 1) || uint64(chunk) >= end || per == 0 {
			return fmt.Errorf("stsc: entry %d (first chunk %d of %d, %d samples each): %w", i, chunk, nChunks, per, ErrInvalid)
		}
		t.runs = append(t.runs, chunkRun{chunk: chunk - 1, end: uint32(end - 1), perChunk: per, description: desc, first: first})
		// No overflow: first is under 2^32 and the product under
		// 2^64-2^32, both factors being under 2^32.
		first += (end - uint64(chunk)) * uint64(per)
	}
	if first < uint64(t.n) {
		return fmt.Errorf("stsc: chunks hold %d of %d samples: %w", first, t.n, ErrInvalid)
	}
	// Every chunk that holds samples must lie in the file, which makes
	// every sample's offset a valid int64 that no sum overflows. This costs
	// a step per chunk, and a step per sample only where sizes are stored
	// one by one: bounded by the bytes of the tables either way.
	for _, r := range t.runs {
		for c := r.chunk; c < r.end; c++ {
			s := r.first + uint64(c-r.chunk)*uint64(r.perChunk)
			if s >= uint64(t.n) {
				break
			}
			count := uint32(min(uint64(r.perChunk), uint64(t.n)-s))
			off := t.chunkOffset(c)
			if size := t.sizeSum(uint32(s), count); off > uint64(fileSize) || size > uint64(fileSize)-off {
				return fmt.Errorf("%s: chunk %d at %d with %d bytes runs past the end of the file (%d): %w", stco.Type, c+1, off, size, fileSize, ErrInvalid)
			}
		}
	}
	return nil
}

// parseRoll reads the 'roll' sample group: how many samples before a
// sample must be decoded for it to come out right (AAC's pre-roll, for
// which ffmpeg writes a distance of -1).
func (t *SampleTable) parseRoll() error {
	var defaultIndex uint32
	for _, c := range t.stbl.Children {
		if c.Type != typeSgpd {
			continue
		}
		v, body, err := fullBox(c, 8)
		if err != nil {
			return err
		}
		if Type(body[:4]) != typeRoll {
			continue
		}
		skip := 0
		if v >= 1 {
			skip = 4 // default_length
		}
		if v >= 2 {
			defaultIndex = binary.BigEndian.Uint32(body[4+skip:])
			skip += 4
		}
		if v >= 1 && binary.BigEndian.Uint32(body[4:]) == 0 {
			// Entries with a length of their own: not what 'roll' has.
			return fmt.Errorf("sgpd roll: variable-length entries: %w", ErrInvalid)
		}
		n, e, err := tableBody(c, 4+skip, 2)
		if err != nil {
			return err
		}
		for i := range n {
			t.roll = append(t.roll, int16(binary.BigEndian.Uint16(e[2*i:])))
		}
	}
	if t.roll == nil {
		return nil
	}
	for _, c := range t.stbl.Children {
		if c.Type != typeSbgp {
			continue
		}
		if v, body, err := fullBox(c, 4); err != nil {
			return err
		} else if Type(body[:4]) != typeRoll {
			continue
		} else if runs, err := t.groupRuns(c, v); err != nil {
			return err
		} else {
			t.rollOf = runs
			return nil
		}
	}
	if defaultIndex > 0 {
		t.rollOf = []groupRun{{first: 0, count: t.n, index: defaultIndex}}
	}
	return nil
}

// groupRuns reads an sbgp box of version v as runs over the samples.
func (t *SampleTable) groupRuns(b *Box, v byte) ([]groupRun, error) {
	skip := 4
	if v == 1 {
		skip = 8 // grouping_type_parameter
	}
	n, e, err := tableBody(b, skip, 8)
	if err != nil {
		return nil, err
	}
	var runs []groupRun
	var first uint64
	for i := 0; i < n && first < uint64(t.n); i++ {
		count := min(uint64(binary.BigEndian.Uint32(e[8*i:])), uint64(t.n)-first)
		if count > 0 {
			runs = append(runs, groupRun{first: uint32(first), count: uint32(count), index: binary.BigEndian.Uint32(e[8*i+4:])})
		}
		first += count
	}
	return runs, nil
}

// preRoll returns how many samples before sample i must be decoded first.
func (t *SampleTable) preRoll(i uint32) uint32 {
	k := sort.Search(len(t.rollOf), func(k int) bool { return t.rollOf[k].first > i }) - 1
	if k < 0 || i-t.rollOf[k].first >= t.rollOf[k].count {
		return 0
	}
	idx := t.rollOf[k].index
	if idx == 0 || idx > uint32(len(t.roll)) || t.roll[idx-1] >= 0 {
		return 0
	}
	return uint32(-int32(t.roll[idx-1]))
}

// timeRunOf returns the index of the stts run holding sample i.
func (t *SampleTable) timeRunOf(i uint32) int {
	return sort.Search(len(t.times), func(k int) bool { return t.times[k].first > i }) - 1
}

// timeOf returns the decoding time and duration of sample i (< n).
func (t *SampleTable) timeOf(i uint32) (uint64, uint32) {
	r := t.times[t.timeRunOf(i)]
	return r.time + uint64(i-r.first)*uint64(r.delta), r.delta
}

// endTime returns the decoding time that follows the last sample.
func (t *SampleTable) endTime() uint64 {
	if len(t.times) == 0 {
		return 0
	}
	r := t.times[len(t.times)-1]
	return r.time + uint64(r.count)*uint64(r.delta)
}

// atTime returns the first sample whose decoding time is at or after tm,
// or n if there is none.
func (t *SampleTable) atTime(tm uint64) uint32 {
	k := sort.Search(len(t.times), func(k int) bool { return t.times[k].time >= tm })
	if k == 0 {
		return 0
	}
	r := t.times[k-1] // starts before tm
	if r.delta == 0 {
		return r.first + r.count
	}
	steps := (tm - r.time + uint64(r.delta) - 1) / uint64(r.delta)
	return r.first + uint32(min(steps, uint64(r.count)))
}

// offsetOf returns the composition offset of sample i.
func (t *SampleTable) offsetOf(i uint32) int32 {
	k := sort.Search(len(t.offsets), func(k int) bool { return t.offsets[k].first > i }) - 1
	if k < 0 {
		return 0
	}
	return t.offsets[k].offset
}

// syncCount returns the number of sync samples; the table must have stss.
func (t *SampleTable) syncCount() int { return len(t.syncs) / 4 }

// syncAt returns the 0-based sample of the k-th sync sample.
func (t *SampleTable) syncAt(k int) uint32 { return binary.BigEndian.Uint32(t.syncs[4*k:]) - 1 }

// syncIndex returns how many sync samples come before sample i.
func (t *SampleTable) syncIndex(i uint32) int {
	return sort.Search(t.syncCount(), func(k int) bool { return t.syncAt(k) >= i })
}

// isSync reports whether sample i is a sync sample.
func (t *SampleTable) isSync(i uint32) bool {
	if t.syncs == nil {
		return true
	}
	k := t.syncIndex(i)
	return k < t.syncCount() && t.syncAt(k) == i
}

// chunkOf returns the stsc run and chunk holding sample i, and the first
// sample of that chunk.
func (t *SampleTable) chunkOf(i uint32) (run int, chunk, first uint32) {
	run = sort.Search(len(t.runs), func(k int) bool { return t.runs[k].first > uint64(i) }) - 1
	r := t.runs[run]
	in := uint64(i) - r.first
	chunk = r.chunk + uint32(in/uint64(r.perChunk))
	return run, chunk, i - uint32(in%uint64(r.perChunk))
}

// Sample returns sample i, or false if there are not that many.
func (t *SampleTable) Sample(i uint32) (Sample, bool) {
	if i >= t.n {
		return Sample{}, false
	}
	run, chunk, first := t.chunkOf(i)
	tm, d := t.timeOf(i)
	return Sample{
		Time:              tm,
		Duration:          d,
		CompositionOffset: t.offsetOf(i),
		Size:              t.size(i),
		Offset:            int64(t.chunkOffset(chunk) + t.sizeSum(first, i-first)),
		Keyframe:          t.isSync(i),
		Description:       t.runs[run].description,
	}, true
}

// Samples returns samples [from, to) in order, each in constant time
// after the first. to is clamped to Len.
func (t *SampleTable) Samples(from, to uint32) iter.Seq2[uint32, Sample] {
	return func(yield func(uint32, Sample) bool) {
		to = min(to, t.n)
		if from >= to {
			return
		}
		c := t.cursor(from)
		for {
			if !yield(c.i, c.s) || c.i+1 >= to {
				return
			}
			c.next()
		}
	}
}

// cursor walks the samples, keeping its place in every table.
type cursor struct {
	t *SampleTable
	i uint32
	s Sample
	// The runs of stts, ctts and stsc that hold sample i and its place in
	// the first two, the chunk and how many of its samples are left, and
	// the first sync sample at or after i.
	time, off, run, sync int
	inTime, inOff        uint32
	chunk, left          uint32
}

// cursor returns a cursor at sample i (< n).
func (t *SampleTable) cursor(i uint32) *cursor {
	c := &cursor{t: t, i: i}
	c.s, _ = t.Sample(i)
	c.time = t.timeRunOf(i)
	c.inTime = i - t.times[c.time].first
	if len(t.offsets) > 0 {
		c.off = sort.Search(len(t.offsets), func(k int) bool { return t.offsets[k].first > i }) - 1
		c.inOff = i - t.offsets[c.off].first
	}
	var first uint32
	c.run, c.chunk, first = t.chunkOf(i)
	c.left = uint32(min(uint64(t.runs[c.run].perChunk), uint64(t.n-first))) - (i - first)
	if t.syncs != nil {
		c.sync = t.syncIndex(i)
	}
	return c
}

// next moves to the following sample, which must exist.
func (c *cursor) next() {
	t, s := c.t, &c.s
	prevSize := s.Size
	c.i++
	s.Time += uint64(s.Duration)
	if c.inTime++; c.inTime == t.times[c.time].count {
		c.time, c.inTime = c.time+1, 0
	}
	s.Duration = t.times[c.time].delta
	if len(t.offsets) > 0 {
		if c.inOff++; c.inOff == t.offsets[c.off].count {
			c.off, c.inOff = c.off+1, 0
		}
		s.CompositionOffset = t.offsets[c.off].offset
	}
	s.Size = t.size(c.i)
	if c.left--; c.left > 0 {
		s.Offset += int64(prevSize)
	} else {
		if c.chunk++; c.chunk == t.runs[c.run].end {
			c.run++
		}
		r := t.runs[c.run]
		c.left = uint32(min(uint64(r.perChunk), uint64(t.n-c.i)))
		s.Offset = int64(t.chunkOffset(c.chunk))
		s.Description = r.description
	}
	if t.syncs != nil {
		if c.sync < t.syncCount() && t.syncAt(c.sync) < c.i {
			c.sync++
		}
		s.Keyframe = c.sync < t.syncCount() && t.syncAt(c.sync) == c.i
	}
}

// rescale converts v from one timescale to another, rounding to the
// nearest and saturating at math.MaxInt64.
func rescale(v, from, to uint64) uint64 {
	hi, lo := bits.Mul64(v, to)
	lo, carry := bits.Add64(lo, from/2, 0)
	hi += carry
	if hi >= from {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, from)
	return min(q, math.MaxInt64)
}
