package mp4

import (
	"encoding/binary"
	"fmt"
	"io"
)

// DefaultMaxMoovSize is the largest movie box that Parse reads unless told
// otherwise. The movie box of a two-hour film with 60 frames a second is
// about 5 MiB.
const DefaultMaxMoovSize = 64 << 20

// Options are Parse's limits.
type Options struct {
	// MaxMoovSize bounds the movie box, which Parse reads into memory.
	// Zero means DefaultMaxMoovSize.
	MaxMoovSize int64
}

// File is a parsed progressive MP4 file: where its top-level boxes are, and
// its movie box read into memory with each track's sample table. It holds
// no reference to the reader it was parsed from and is safe for concurrent
// use.
type File struct {
	// Size is the length of the file.
	Size int64
	// Boxes are the top-level boxes, in file order.
	Boxes []BoxHeader
	// Moov is the movie box.
	Moov *Box
	// Timescale is the movie's time units per second (mvhd), the unit of
	// Duration and of edit list durations.
	Timescale uint32
	// Duration is the movie's duration in its timescale (mvhd).
	Duration uint64
	Tracks   []*Track

	moov int // index of the movie box in Boxes
	ftyp *Box
}

// Track is a track of the movie.
type Track struct {
	ID uint32
	// Handler is the handler type of the media: vide, soun, text...
	Handler Type
	// Timescale is the media's time units per second (mdhd), the unit of
	// sample times and of MediaTime in Edits.
	Timescale uint32
	// Duration is the media's duration in its timescale (mdhd).
	Duration uint64
	// Edits is the edit list (elst), nil when the track has none.
	Edits   []Edit
	Samples *SampleTable

	// The boxes parsed, which a clip rewrites: of each type the first.
	box, tkhd, mdia, mdhd, minf *Box
}

// Edit is an entry of an edit list: a segment of the presentation.
type Edit struct {
	// Duration is the segment's length in the movie timescale.
	Duration uint64
	// MediaTime is where the segment starts in the media's composition
	// times, or -1 for an empty segment (nothing presented).
	MediaTime int64
	// RateInteger and RateFraction are the playback rate, 16.16; 1.0 is
	// normal play.
	RateInteger  int16
	RateFraction int16
}

// Parse reads the top-level boxes of the file r of size bytes and its
// movie box. A movie box with mvex, or a moof box, gives [ErrFragmented];
// a file without a movie box [ErrNoMovie]. Every chunk of every track must
// lie inside the file: a truncated file is an error, not a partial movie.
func Parse(r io.ReaderAt, size int64, opt *Options) (*File, error) {
	maxMoov := int64(DefaultMaxMoovSize)
	if opt != nil && opt.MaxMoovSize > 0 {
		maxMoov = opt.MaxMoovSize
	}
	boxes, err := ScanBoxes(r, size)
	if err != nil {
		return nil, err
	}
	f := &File{Size: size, Boxes: boxes, moov: -1}
	for i, b := range boxes {
		if b.Type == typeMoov {
			if f.moov >= 0 {
				return nil, fmt.Errorf("mp4: a second moov at %d: %w", b.Offset, ErrInvalid)
			}
			f.moov = i
		}
	}
	if f.moov < 0 {
		return nil, ErrNoMovie
	}
	mh := boxes[f.moov]
	if mh.Size > maxMoov {
		return nil, fmt.Errorf("mp4: moov of %d bytes, over the limit of %d: %w", mh.Size, maxMoov, ErrTooLarge)
	}
	raw := make([]byte, mh.Size)
	if n, err := r.ReadAt(raw, mh.Offset); n < len(raw) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("mp4: reading moov at %d: %w", mh.Offset, err)
	}
	if f.Moov, err = ParseBox(raw); err != nil {
		return nil, fmt.Errorf("mp4: moov: %w", err)
	}
	if boxes[0].Type == typeFtyp {
		if f.ftyp, err = readLeaf(r, boxes[0], 4096); err != nil {
			return nil, err
		}
	}
	if err := f.parseMovie(); err != nil {
		return nil, fmt.Errorf("mp4: moov: %w", err)
	}
	return f, nil
}

// readLeaf reads a small top-level box whole.
func readLeaf(r io.ReaderAt, h BoxHeader, limit int64) (*Box, error) {
	if h.Size > limit {
		return nil, fmt.Errorf("mp4: %s of %d bytes, over the limit of %d: %w", h.Type, h.Size, limit, ErrTooLarge)
	}
	raw := make([]byte, h.Size)
	if _, err := r.ReadAt(raw, h.Offset); err != nil {
		return nil, fmt.Errorf("mp4: reading %s at %d: %w", h.Type, h.Offset, err)
	}
	return ParseBox(raw)
}

func (f *File) parseMovie() error {
	var err error
	for _, c := range f.Moov.Children {
		switch c.Type {
		case typeMvex:
			return ErrFragmented
		case typeMvhd:
			if f.Timescale != 0 {
				return fmt.Errorf("a second mvhd: %w", ErrInvalid)
			}
			if f.Timescale, f.Duration, err = timesOf(c); err != nil {
				return err
			}
		case typeTrak:
			t, err := parseTrack(c, f.Size)
			if err != nil {
				return fmt.Errorf("trak %d: %w", len(f.Tracks)+1, err)
			}
			f.Tracks = append(f.Tracks, t)
		}
	}
	if f.Timescale == 0 {
		return fmt.Errorf("mvhd missing or with timescale 0: %w", ErrInvalid)
	}
	return nil
}

// timesOf reads the timescale and duration of an mvhd or mdhd box, which
// share their first fields.
func timesOf(b *Box) (timescale uint32, duration uint64, err error) {
	v, body, err := fullBox(b, 20)
	if err != nil {
		return 0, 0, err
	}
	if v == 1 {
		if len(body) < 28 {
			return 0, 0, fmt.Errorf("%s: version 1 in %d bytes: %w", b.Type, len(b.Payload), ErrInvalid)
		}
		timescale, duration = binary.BigEndian.Uint32(body[16:]), binary.BigEndian.Uint64(body[20:])
	} else {
		timescale, duration = binary.BigEndian.Uint32(body[8:]), uint64(binary.BigEndian.Uint32(body[12:]))
	}
	if timescale == 0 {
		return 0, 0, fmt.Errorf("%s: timescale 0: %w", b.Type, ErrInvalid)
	}
	return timescale, duration, nil
}

// durationAt is where the duration field of an mvhd, mdhd (whose fields
// agree) or tkhd payload is, and how wide.
func durationAt(b *Box) (off, width int) {
	v := b.Payload[0]
	switch {
	case b.Type == typeTkhd && v == 1:
		return 28, 8
	case b.Type == typeTkhd:
		return 20, 4
	case v == 1:
		return 24, 8
	}
	return 16, 4
}

// withDuration returns a copy of an mvhd, tkhd or mdhd box (already
// checked by parsing) with another duration. A version 0 box keeps its
// 32-bit field, saturated: a clip is never longer than its source.
func withDuration(b *Box, d uint64) *Box {
	p := append([]byte(nil), b.Payload...)
	off, width := durationAt(b)
	if width == 8 {
		binary.BigEndian.PutUint64(p[off:], d)
	} else {
		binary.BigEndian.PutUint32(p[off:], uint32(min(d, 0xffffffff)))
	}
	return NewBox(b.Type, p)
}

func parseTrack(trak *Box, fileSize int64) (*Track, error) {
	t := &Track{box: trak}
	tkhd := trak.Child(typeTkhd)
	t.tkhd = tkhd
	if tkhd == nil {
		return nil, fmt.Errorf("no tkhd: %w", ErrInvalid)
	}
	v, body, err := fullBox(tkhd, 20)
	if err != nil {
		return nil, err
	}
	if v == 1 {
		if len(body) < 32 {
			return nil, fmt.Errorf("tkhd: version 1 in %d bytes: %w", len(tkhd.Payload), ErrInvalid)
		}
		t.ID = binary.BigEndian.Uint32(body[16:])
	} else {
		t.ID = binary.BigEndian.Uint32(body[8:])
	}
	if edts := trak.Child(typeEdts); edts != nil {
		if elst := edts.Child(typeElst); elst != nil {
			if t.Edits, err = parseEdits(elst); err != nil {
				return nil, err
			}
		}
	}
	mdia := trak.Child(typeMdia)
	t.mdia = mdia
	if mdia == nil {
		return nil, fmt.Errorf("no mdia: %w", ErrInvalid)
	}
	mdhd := mdia.Child(typeMdhd)
	t.mdhd = mdhd
	if mdhd == nil {
		return nil, fmt.Errorf("no mdhd: %w", ErrInvalid)
	}
	if t.Timescale, t.Duration, err = timesOf(mdhd); err != nil {
		return nil, err
	}
	if hdlr := mdia.Child(typeHdlr); hdlr != nil {
		if _, body, err := fullBox(hdlr, 8); err == nil {
			copy(t.Handler[:], body[4:8])
		}
	}
	minf := mdia.Child(typeMinf)
	t.minf = minf
	if minf == nil {
		return nil, fmt.Errorf("no minf: %w", ErrInvalid)
	}
	stbl := minf.Child(typeStbl)
	if stbl == nil {
		return nil, fmt.Errorf("no stbl: %w", ErrInvalid)
	}
	if t.Samples, err = ParseSampleTable(stbl, fileSize); err != nil {
		return nil, fmt.Errorf("stbl: %w", err)
	}
	return t, nil
}

func parseEdits(elst *Box) ([]Edit, error) {
	v, _, err := fullBox(elst, 4)
	if err != nil {
		return nil, err
	}
	size := 12
	if v == 1 {
		size = 20
	}
	n, b, err := tableBody(elst, 0, size)
	if err != nil {
		return nil, err
	}
	edits := make([]Edit, n)
	for i := range edits {
		e := &edits[i]
		if v == 1 {
			e.Duration, e.MediaTime = binary.BigEndian.Uint64(b), int64(binary.BigEndian.Uint64(b[8:]))
		} else {
			e.Duration, e.MediaTime = uint64(binary.BigEndian.Uint32(b)), int64(int32(binary.BigEndian.Uint32(b[4:])))
		}
		e.RateInteger = int16(binary.BigEndian.Uint16(b[size-4:]))
		e.RateFraction = int16(binary.BigEndian.Uint16(b[size-2:]))
		if e.MediaTime < -1 {
			return nil, fmt.Errorf("elst: media time %d: %w", e.MediaTime, ErrInvalid)
		}
		b = b[size:]
	}
	return edits, nil
}

// NeedsFaststart reports whether the movie box follows media data, so that
// a player reading from the start would have to fetch the whole file
// before playing.
func (f *File) NeedsFaststart() bool {
	for _, b := range f.Boxes[:f.moov] {
		if b.Type == typeMdat {
			return true
		}
	}
	return false
}

// MemSize estimates the memory a File holds, for caches.
func (f *File) MemSize() int64 {
	n := int64(len(f.Moov.raw)) + 512 + int64(len(f.Boxes))*40 + boxesMemSize(f.Moov)
	for _, t := range f.Tracks {
		n += 256 + t.Samples.memSize()
	}
	return n
}

// boxesMemSize is the memory of the Box values of a tree, beyond their
// bytes.
func boxesMemSize(b *Box) int64 {
	n := int64(96)
	for _, c := range b.Children {
		n += boxesMemSize(c)
	}
	return n
}
