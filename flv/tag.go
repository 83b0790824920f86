package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Tag types.
const (
	TagAudio  uint8 = 8
	TagVideo  uint8 = 9
	TagScript uint8 = 18
)

const (
	// HeaderSize is the size of the FLV file header, without PreviousTagSize0.
	HeaderSize = 9
	// TagHeaderSize is the size of the tag header that precedes Tag.Data.
	TagHeaderSize = 11
	// MaxDataSize is the largest tag body the 24-bit DataSize field can describe.
	MaxDataSize = 1<<24 - 1
)

// prevTagSizeLen is the size of the PreviousTagSize field after the header
// and after every tag.
const prevTagSizeLen = 4

// maxDataOffset bounds how many bytes ReadHeader skips after the header:
// real files have none, and a huge DataOffset would only make us read
// garbage for a long time before failing.
const maxDataOffset = 1 << 16

var (
	// ErrInvalid is wrapped by errors about malformed input.
	ErrInvalid = errors.New("invalid data")
	// ErrTooLarge is wrapped by errors about sizes over a limit.
	ErrTooLarge = errors.New("too large")
)

// Tag is one FLV tag. The stream ID, which is always 0, is not kept.
type Tag struct {
	Type      uint8
	Timestamp uint32 // milliseconds, full 32 bits (24 bits + TimestampExtended)
	Data      []byte // tag body (after the 11-byte tag header)
}

// AppendHeader appends the 9-byte FLV header with the given flags and the
// 4-byte PreviousTagSize0 (zero).
func AppendHeader(dst []byte, hasAudio, hasVideo bool) []byte {
	var flags byte
	if hasAudio {
		flags |= 0x04
	}
	if hasVideo {
		flags |= 0x01
	}
	return append(dst, 'F', 'L', 'V', 1, flags, 0, 0, 0, HeaderSize, 0, 0, 0, 0)
}

// AppendTag appends the 11-byte tag header, t.Data, and the 4-byte
// PreviousTagSize (11+len(Data)). StreamID is 0. Only the low five bits of
// t.Type are written, so the reserved and filter bits are always clear.
//
// AppendTag does not allocate when dst has room for [EncodedSize](t) more
// bytes. It panics if len(t.Data) > [MaxDataSize]: such a tag cannot be
// written, and no RTMP message or FLV tag can carry one.
func AppendTag(dst []byte, t Tag) []byte {
	n := len(t.Data)
	if n > MaxDataSize {
		panic("flv: AppendTag: tag data larger than MaxDataSize")
	}
	h := [TagHeaderSize]byte{0: t.Type & 0x1f, 1: byte(n >> 16), 2: byte(n >> 8), 3: byte(n)}
	PutTimestamp(h[:], t.Timestamp)
	dst = slices.Grow(dst, TagHeaderSize+n+prevTagSizeLen)
	dst = append(dst, h[:]...)
	dst = append(dst, t.Data...)
	return binary.BigEndian.AppendUint32(dst, uint32(TagHeaderSize+n))
}

// PutTimestamp writes ts into the tag header h: its low 24 bits, then the
// TimestampExtended byte with the high 8.
func PutTimestamp(h []byte, ts uint32) {
	h[4], h[5], h[6], h[7] = byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24)
}

// EncodedSize is len(AppendTag(nil, t)) = 11 + len(Data) + 4.
func EncodedSize(t Tag) int {
	return TagHeaderSize + len(t.Data) + prevTagSizeLen
}

// Header is the FLV file header.
type Header struct {
	Version            uint8
	HasAudio, HasVideo bool
	DataOffset         uint32
}

// Reader reads an FLV stream: first the header with ReadHeader, then tags
// with ReadTag. It does no buffering of its own, so wrap an unbuffered
// source such as a net.Conn in a bufio.Reader. After an error other than
// io.EOF the stream position is undefined.
type Reader struct {
	// MaxTagSize is the largest tag body ReadTag accepts. NewReader sets it
	// to MaxDataSize, which is no extra bound; zero or less also means no
	// extra bound.
	MaxTagSize int

	r    io.Reader
	buf  [TagHeaderSize]byte
	body []byte // ReadTagReuse's buffer
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{MaxTagSize: MaxDataSize, r: r}
}

// ParseHeader checks and decodes the 9-byte FLV file header at the start
// of b. A signature other than "FLV", or a DataOffset under 9 or over
// 64 KiB, is an error wrapping [ErrInvalid]; fewer than 9 bytes, one
// wrapping [io.ErrUnexpectedEOF]. The first tag follows at DataOffset + 4,
// after PreviousTagSize0.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("flv: header: %d bytes: %w", len(b), io.ErrUnexpectedEOF)
	}
	if string(b[:3]) != "FLV" {
		return Header{}, fmt.Errorf("flv: header: signature %q is not \"FLV\": %w", b[:3], ErrInvalid)
	}
	h := Header{
		Version:    b[3],
		HasAudio:   b[4]&0x04 != 0,
		HasVideo:   b[4]&0x01 != 0,
		DataOffset: binary.BigEndian.Uint32(b[5:9]),
	}
	if h.DataOffset < HeaderSize || h.DataOffset > maxDataOffset {
		return Header{}, fmt.Errorf("flv: header: data offset %d: %w", h.DataOffset, ErrInvalid)
	}
	return h, nil
}

// FirstTag is the offset of the first tag of a file with header h.
func (h Header) FirstTag() int64 {
	return int64(h.DataOffset) + prevTagSizeLen
}

// TagHeader is the 11-byte header in front of every tag body.
type TagHeader struct {
	// Type is the tag type: the low five bits of the first byte, whose
	// reserved and filter (encryption) bits ParseTagHeader has checked.
	Type      uint8
	DataSize  int    // bytes of the body
	Timestamp uint32 // milliseconds, full 32 bits (24 bits + TimestampExtended)
	StreamID  uint32 // always 0 in a valid file
}

// TagEnd is the offset just past a tag at pos with this header, its
// PreviousTagSize included: where the next tag starts.
func (h TagHeader) TagEnd(pos int64) int64 {
	return pos + TagHeaderSize + int64(h.DataSize) + prevTagSizeLen
}

// ParseTagHeader decodes the tag header at the start of b. A first byte
// with the reserved bits set is an error wrapping [ErrInvalid], an
// encrypted tag (filter bit) one wrapping [errors.ErrUnsupported], and
// fewer than TagHeaderSize bytes one wrapping [io.ErrUnexpectedEOF].
// Unknown tag types and nonzero stream IDs are returned as they are, for
// the caller to judge.
func ParseTagHeader(b []byte) (TagHeader, error) {
	if len(b) < TagHeaderSize {
		return TagHeader{}, fmt.Errorf("flv: tag header: %d bytes: %w", len(b), io.ErrUnexpectedEOF)
	}
	if b[0]&0xc0 != 0 {
		return TagHeader{}, fmt.Errorf("flv: tag header: reserved bits set in 0x%02x: %w", b[0], ErrInvalid)
	}
	if b[0]&0x20 != 0 {
		return TagHeader{}, fmt.Errorf("flv: tag header: encrypted tag: %w", errors.ErrUnsupported)
	}
	return TagHeader{
		Type:      b[0],
		DataSize:  int(b[1])<<16 | int(b[2])<<8 | int(b[3]),
		Timestamp: uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]),
		StreamID:  uint32(b[8])<<16 | uint32(b[9])<<8 | uint32(b[10]),
	}, nil
}

// ReadHeader reads the FLV header and PreviousTagSize0, skipping any bytes
// between the two that a DataOffset over 9 announces. A header that
// ParseHeader refuses is an error.
func (r *Reader) ReadHeader() (Header, error) {
	b := r.buf[:HeaderSize]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return Header{}, fmt.Errorf("flv: read header: %w", err)
	}
	h, err := ParseHeader(b)
	if err != nil {
		return Header{}, fmt.Errorf("flv: read header: %w", err)
	}
	skip := h.FirstTag() - HeaderSize
	if _, err := io.CopyN(io.Discard, r.r, skip); err != nil {
		return Header{}, fmt.Errorf("flv: read header: %w", unexpected(err))
	}
	return h, nil
}

// ReadTag reads the next tag and the PreviousTagSize after it, whose value
// is not checked. It returns io.EOF, unwrapped, when the stream ends cleanly
// before a tag, and an error wrapping io.ErrUnexpectedEOF when it ends inside
// one. Data is freshly allocated for each tag, so it may be kept. Tags of
// unknown types are returned as they are; tags with the reserved or the
// filter (encryption) bits set are an error.
func (r *Reader) ReadTag() (Tag, error) {
	t, b, err := r.readTag(nil)
	if err != nil {
		return Tag{}, err
	}
	// Data's capacity is clipped so appending to it cannot overwrite
	// anything.
	t.Data = b[: len(b)-prevTagSizeLen : len(b)-prevTagSizeLen]
	return t, nil
}

// ReadTagReuse is ReadTag into a buffer the Reader keeps from one call to
// the next: t.Data is valid only until the next call, and a caller that
// keeps the tag copies it. Once the buffer has grown to the stream's
// largest tags, reading allocates nothing. The buffer grows as bytes
// arrive, as ReadTag's does, and one grown past maxKept for a rare huge tag
// is let go at the next call, so that a stream holds no more than that
// between its big tags.
func (r *Reader) ReadTagReuse() (Tag, error) {
	if cap(r.body) > maxKept {
		r.body = nil
	}
	t, b, err := r.readTag(r.body)
	if err != nil {
		return Tag{}, err
	}
	r.body = b[:0]
	t.Data = b[: len(b)-prevTagSizeLen : len(b)-prevTagSizeLen]
	return t, nil
}

// maxKept bounds the buffer ReadTagReuse keeps between calls: a 4K
// keyframe fits.
const maxKept = 4 << 20

// readTag reads a tag header, and the body with the PreviousTagSize after
// it in one go, which saves a read call per tag, into buf when it is large
// enough. It returns the tag without its Data, and the bytes read.
func (r *Reader) readTag(buf []byte) (Tag, []byte, error) {
	hb := r.buf[:TagHeaderSize]
	if _, err := io.ReadFull(r.r, hb); err != nil {
		if err == io.EOF {
			return Tag{}, nil, io.EOF
		}
		return Tag{}, nil, fmt.Errorf("flv: read tag header: %w", err)
	}
	h, err := ParseTagHeader(hb)
	if err != nil {
		return Tag{}, nil, err
	}
	if r.MaxTagSize > 0 && h.DataSize > r.MaxTagSize {
		return Tag{}, nil, fmt.Errorf("flv: read tag header: data size %d over %d: %w", h.DataSize, r.MaxTagSize, ErrTooLarge)
	}
	b, err := readBody(r.r, buf, h.DataSize+prevTagSizeLen)
	if err != nil {
		return Tag{}, nil, fmt.Errorf("flv: read tag body: %w", err)
	}
	return Tag{Type: h.Type, Timestamp: h.Timestamp}, b, nil
}

// readChunk is how much readBody allocates before any byte has arrived.
const readChunk = 64 << 10

// readBody reads exactly n bytes, into buf when its capacity allows.
// Rather than allocating n bytes up front on the word of a size field, it
// grows the buffer as bytes arrive, so a peer that announces 16 MiB and
// then stalls costs at most readChunk (or buf's capacity, allocated
// already).
func readBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	if cap(buf) < min(n, readChunk) {
		buf = make([]byte, min(n, readChunk))
	}
	buf = buf[:min(n, cap(buf))]
	got := 0
	for {
		m, err := io.ReadFull(r, buf[got:])
		got += m
		if err != nil {
			return nil, unexpected(err)
		}
		if got == n {
			return buf, nil
		}
		grown := make([]byte, min(n, 2*got))
		copy(grown, buf)
		buf = grown
	}
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF, for reads that have
// already begun a structure.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes an FLV stream.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// WriteHeader writes the FLV header and PreviousTagSize0.
func (w *Writer) WriteHeader(hasAudio, hasVideo bool) error {
	w.buf = AppendHeader(w.buf[:0], hasAudio, hasVideo)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("flv: write header: %w", err)
	}
	return nil
}

// WriteTag writes t and the PreviousTagSize after it with a single Write
// call.
func (w *Writer) WriteTag(t Tag) error {
	if len(t.Data) > MaxDataSize {
		return fmt.Errorf("flv: write tag: data size %d: %w", len(t.Data), ErrTooLarge)
	}
	w.buf = AppendTag(w.buf[:0], t)
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("flv: write tag: %w", err)
	}
	return nil
}
