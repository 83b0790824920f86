package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Errors that the errors of this package wrap.
var (
	// ErrInvalid is malformed input: a box or table that contradicts
	// itself, its parent or the file.
	ErrInvalid = errors.New("mp4: invalid data")
	// ErrTooLarge is a valid box over a limit of this package, such as a
	// movie box larger than Options.MaxMoovSize.
	ErrTooLarge = errors.New("mp4: too large")
	// ErrFragmented is a fragmented MP4 file (moof boxes, or mvex in the
	// movie box): its samples are described in fragments, not in the movie.
	ErrFragmented = errors.New("mp4: fragmented file")
	// ErrNoMovie is a file without a movie box, such as one whose writer
	// never finished.
	ErrNoMovie = errors.New("mp4: no moov box")
	// ErrOutOfRange is a clip that holds no sample of any track: it
	// starts at or after the end of the movie.
	ErrOutOfRange = errors.New("mp4: clip outside the movie")
)

// Type is a box type, its four-character code.
type Type [4]byte

// String returns the code as text, quoted when it is not printable ASCII.
func (t Type) String() string {
	for _, c := range t {
		if c < 0x20 || c > 0x7e {
			return strconv.Quote(string(t[:]))
		}
	}
	return string(t[:])
}

// The box types this package looks into or writes.
var (
	typeCo64 = Type{'c', 'o', '6', '4'}
	typeCslg = Type{'c', 's', 'l', 'g'}
	typeCtts = Type{'c', 't', 't', 's'}
	typeEdts = Type{'e', 'd', 't', 's'}
	typeElst = Type{'e', 'l', 's', 't'}
	typeFtyp = Type{'f', 't', 'y', 'p'}
	typeHdlr = Type{'h', 'd', 'l', 'r'}
	typeMdat = Type{'m', 'd', 'a', 't'}
	typeMdhd = Type{'m', 'd', 'h', 'd'}
	typeMdia = Type{'m', 'd', 'i', 'a'}
	typeMeta = Type{'m', 'e', 't', 'a'}
	typeMinf = Type{'m', 'i', 'n', 'f'}
	typeMoof = Type{'m', 'o', 'o', 'f'}
	typeMoov = Type{'m', 'o', 'o', 'v'}
	typeMvex = Type{'m', 'v', 'e', 'x'}
	typeMvhd = Type{'m', 'v', 'h', 'd'}
	typePadb = Type{'p', 'a', 'd', 'b'}
	typeSaio = Type{'s', 'a', 'i', 'o'}
	typeSaiz = Type{'s', 'a', 'i', 'z'}
	typeSbgp = Type{'s', 'b', 'g', 'p'}
	typeSdtp = Type{'s', 'd', 't', 'p'}
	typeSgpd = Type{'s', 'g', 'p', 'd'}
	typeStbl = Type{'s', 't', 'b', 'l'}
	typeStco = Type{'s', 't', 'c', 'o'}
	typeStdp = Type{'s', 't', 'd', 'p'}
	typeStps = Type{'s', 't', 'p', 's'}
	typeStsc = Type{'s', 't', 's', 'c'}
	typeStsh = Type{'s', 't', 's', 'h'}
	typeStss = Type{'s', 't', 's', 's'}
	typeStsz = Type{'s', 't', 's', 'z'}
	typeStts = Type{'s', 't', 't', 's'}
	typeStz2 = Type{'s', 't', 'z', '2'}
	typeSubs = Type{'s', 'u', 'b', 's'}
	typeTkhd = Type{'t', 'k', 'h', 'd'}
	typeTrak = Type{'t', 'r', 'a', 'k'}
	typeUUID = Type{'u', 'u', 'i', 'd'}

	typeRoll = Type{'r', 'o', 'l', 'l'}
)

// isContainer tells the boxes whose children this package reads: the path
// from the movie box down to the sample tables. Everything else (udta,
// meta, dinf, stsd...) is kept as bytes and written back unchanged.
func isContainer(t Type) bool {
	switch t {
	case typeMoov, typeTrak, typeEdts, typeMdia, typeMinf, typeStbl:
		return true
	}
	return false
}

// BoxHeader is where a box lies in a file and what it is.
type BoxHeader struct {
	Type Type
	// Offset is where the box starts, header included.
	Offset int64
	// Size is the length of the whole box, header included. A box whose
	// size field is 0 (it runs to the end of the file) has its actual size.
	Size int64
	// HeaderSize is 8, or 16 with a 64-bit size; a uuid box has its
	// 16-byte extended type counted here too.
	HeaderSize int64
}

// End returns the offset just past the box.
func (h BoxHeader) End() int64 { return h.Offset + h.Size }

// maxHeader is the longest box header: size, type, 64-bit size, uuid.
const maxHeader = 32

// decodeHeader reads the header at the start of b, a box that may extend
// at most avail bytes (to the end of its parent or file). b holds at least
// min(avail, maxHeader) bytes.
func decodeHeader(b []byte, avail int64) (typ Type, size, hdr int64, err error) {
	if avail < 8 || len(b) < 8 {
		return typ, 0, 0, fmt.Errorf("box header: %d bytes left: %w", avail, io.ErrUnexpectedEOF)
	}
	copy(typ[:], b[4:8])
	size, hdr = int64(binary.BigEndian.Uint32(b)), 8
	switch size {
	case 0: // to the end of the enclosing space
		size = avail
	case 1:
		if avail < 16 || len(b) < 16 {
			return typ, 0, 0, fmt.Errorf("box %s: 64-bit size: %w", typ, io.ErrUnexpectedEOF)
		}
		large := binary.BigEndian.Uint64(b[8:])
		if large > math.MaxInt64 {
			return typ, 0, 0, fmt.Errorf("box %s: size %d: %w", typ, large, ErrInvalid)
		}
		size, hdr = int64(large), 16
	}
	if typ == typeUUID {
		hdr += 16
	}
	if size < hdr {
		return typ, 0, 0, fmt.Errorf("box %s: size %d is less than its header: %w", typ, size, ErrInvalid)
	}
	if size > avail {
		return typ, 0, 0, fmt.Errorf("box %s: size %d runs past the %d bytes left: %w", typ, size, avail, io.ErrUnexpectedEOF)
	}
	return typ, size, hdr, nil
}

// ReadBoxHeader reads the header of the box at off in r, a box that must
// end by end (the end of the file or of its parent).
func ReadBoxHeader(r io.ReaderAt, off, end int64) (BoxHeader, error) {
	if off < 0 || off >= end {
		return BoxHeader{}, fmt.Errorf("box header at %d: %w", off, io.ErrUnexpectedEOF)
	}
	var b [maxHeader]byte
	n := min(int64(len(b)), end-off)
	if m, err := r.ReadAt(b[:n], off); int64(m) < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return BoxHeader{}, fmt.Errorf("box header at %d: %w", off, err)
	}
	typ, size, hdr, err := decodeHeader(b[:n], end-off)
	if err != nil {
		return BoxHeader{}, fmt.Errorf("at %d: %w", off, err)
	}
	return BoxHeader{Type: typ, Offset: off, Size: size, HeaderSize: hdr}, nil
}

// maxTopBoxes bounds the top-level boxes of a file. Progressive files have
// a handful (ftyp, free, mdat, moov, maybe uuid or a few mdat); a file of
// millions of empty boxes would otherwise cost a read each.
const maxTopBoxes = 1024

// ScanBoxes returns the top-level boxes of a file of size bytes. A
// fragmented file ends the scan at its first moof with [ErrFragmented]. A
// tail too short for a box header (some writers pad files) is ignored.
func ScanBoxes(r io.ReaderAt, size int64) ([]BoxHeader, error) {
	var boxes []BoxHeader
	for off := int64(0); size-off >= 8; {
		if len(boxes) == maxTopBoxes {
			return nil, fmt.Errorf("mp4: more than %d top-level boxes: %w", maxTopBoxes, ErrTooLarge)
		}
		h, err := ReadBoxHeader(r, off, size)
		if err != nil {
			return nil, fmt.Errorf("mp4: top-level box %d: %w", len(boxes), err)
		}
		if h.Type == typeMoof {
			return nil, fmt.Errorf("mp4: moof at %d: %w", off, ErrFragmented)
		}
		boxes = append(boxes, h)
		off = h.End()
	}
	return boxes, nil
}

// Box is a box held in memory: a container with children, or a leaf with
// its payload. Boxes read by [Parse] keep the bytes they were read from and
// are written back as they were; boxes built by this package or a caller
// are written from Payload or Children. A Box is not changed once it is
// shared: the boxes of a parsed file are read by concurrent requests.
type Box struct {
	Type Type
	// Payload is a leaf's content after the size and type (for a uuid box,
	// starting with the extended type).
	Payload []byte
	// Children are a container's boxes, in order.
	Children []*Box
	raw      []byte // the whole box as read; nil when built
}

// NewBox returns a leaf box.
func NewBox(typ Type, payload []byte) *Box { return &Box{Type: typ, Payload: payload} }

// NewContainer returns a container box.
func NewContainer(typ Type, children ...*Box) *Box {
	return &Box{Type: typ, Children: children}
}

// Size returns the length of the box as written, header included.
func (b *Box) Size() int64 {
	if b.raw != nil {
		return int64(len(b.raw))
	}
	body := int64(len(b.Payload))
	for _, c := range b.Children {
		body += c.Size()
	}
	if body+8 > math.MaxUint32 {
		return body + 16
	}
	return body + 8
}

// Append appends the encoded box to dst.
func (b *Box) Append(dst []byte) []byte {
	if b.raw != nil {
		return append(dst, b.raw...)
	}
	size := b.Size()
	if size > math.MaxUint32 {
		dst = binary.BigEndian.AppendUint32(dst, 1)
		dst = append(dst, b.Type[:]...)
		dst = binary.BigEndian.AppendUint64(dst, uint64(size))
	} else {
		dst = binary.BigEndian.AppendUint32(dst, uint32(size))
		dst = append(dst, b.Type[:]...)
	}
	dst = append(dst, b.Payload...)
	for _, c := range b.Children {
		dst = c.Append(dst)
	}
	return dst
}

// Child returns the first child of type typ, or nil.
func (b *Box) Child(typ Type) *Box {
	for _, c := range b.Children {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

// maxBoxes bounds the boxes of one parsed movie box: a track has about
// fifteen, and a movie box of millions of empty boxes must not become
// millions of Box values.
const maxBoxes = 1 << 14

// parseBoxes reads the boxes in b (the whole of a container's payload) as
// children, descending into known containers. budget counts the boxes
// still allowed.
func parseBoxes(b []byte, budget *int) ([]*Box, error) {
	var out []*Box
	for off := 0; off < len(b); {
		typ, size, hdr, err := decodeHeader(b[off:], int64(len(b)-off))
		if err != nil {
			return nil, fmt.Errorf("at +%d: %w", off, err)
		}
		if *budget--; *budget < 0 {
			return nil, fmt.Errorf("more than %d boxes: %w", maxBoxes, ErrTooLarge)
		}
		raw := b[off : off+int(size)]
		box := &Box{Type: typ, raw: raw}
		if binary.BigEndian.Uint32(raw) == 0 {
			// "To the end of the parent" holds only where the box is:
			// written elsewhere, it gets its actual size.
			box.raw = nil
		}
		if isContainer(typ) {
			if box.Children, err = parseBoxes(raw[hdr:], budget); err != nil {
				return nil, fmt.Errorf("%s: %w", typ, err)
			}
		} else {
			box.Payload = raw[hdr-headerExtra(typ):]
		}
		out = append(out, box)
		off += int(size)
	}
	return out, nil
}

// headerExtra is what decodeHeader counts in the header that Payload keeps:
// the extended type of a uuid box.
func headerExtra(typ Type) int64 {
	if typ == typeUUID {
		return 16
	}
	return 0
}

// ParseBox reads b, which must be exactly one box, into a Box, with the
// children of the containers on the way to the sample tables.
func ParseBox(b []byte) (*Box, error) {
	budget := maxBoxes
	boxes, err := parseBoxes(b, &budget)
	if err != nil {
		return nil, err
	}
	if len(boxes) != 1 {
		return nil, fmt.Errorf("%d boxes where one was expected: %w", len(boxes), ErrInvalid)
	}
	return boxes[0], nil
}

// fullBox returns the version of a full box's payload and what follows its
// version and flags, or an error if the payload is shorter than min bytes
// after them.
func fullBox(b *Box, minLen int) (version byte, body []byte, err error) {
	if len(b.Payload) < 4+minLen {
		return 0, nil, fmt.Errorf("%s: %d bytes: %w", b.Type, len(b.Payload), ErrInvalid)
	}
	return b.Payload[0], b.Payload[4:], nil
}

// tableBody returns the entries of a table box: its body after an entry
// count, checked against the bytes actually there, so that a count never
// sizes an allocation or a loop beyond them. skip is the bytes between
// version/flags and the count.
func tableBody(b *Box, skip, entrySize int) (count int, entries []byte, err error) {
	_, body, err := fullBox(b, skip+4)
	if err != nil {
		return 0, nil, err
	}
	n := uint64(binary.BigEndian.Uint32(body[skip:]))
	entries = body[skip+4:]
	if n > uint64(len(entries)/entrySize) {
		return 0, nil, fmt.Errorf("%s: %d entries claimed in %d bytes: %w", b.Type, n, len(entries), ErrInvalid)
	}
	return int(n), entries[:int(n)*entrySize], nil
}
