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
	ts := t.Timestamp
	dst = slices.Grow(dst, TagHeaderSize+n+prevTagSizeLen)
	dst = append(dst,
		t.Type&0x1f,
		byte(n>>16), byte(n>>8), byte(n),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24),
		0, 0, 0)
	dst = append(dst, t.Data...)
	return binary.BigEndian.AppendUint32(dst, uint32(TagHeaderSize+n))
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

	r   io.Reader
	buf [TagHeaderSize]byte
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{MaxTagSize: MaxDataSize, r: r}
}

// ReadHeader reads the FLV header and PreviousTagSize0, skipping any bytes
// between the two that a DataOffset over 9 announces. A signature other
// than "FLV", or a DataOffset under 9 or over 64 KiB, is an error.
func (r *Reader) ReadHeader() (Header, error) {
	b := r.buf[:HeaderSize]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return Header{}, fmt.Errorf("flv: read header: %w", err)
	}
	if string(b[:3]) != "FLV" {
		return Header{}, fmt.Errorf("flv: read header: signature %q is not \"FLV\": %w", b[:3], ErrInvalid)
	}
	h := Header{
		Version:    b[3],
		HasAudio:   b[4]&0x04 != 0,
		HasVideo:   b[4]&0x01 != 0,
		DataOffset: binary.BigEndian.Uint32(b[5:9]),
	}
	if h.DataOffset < HeaderSize || h.DataOffset > maxDataOffset {
		return Header{}, fmt.Errorf("flv: read header: data offset %d: %w", h.DataOffset, ErrInvalid)
	}
	skip := int64(h.DataOffset-HeaderSize) + prevTagSizeLen
	if _, err := io.CopyN(io.Discard, r.r, skip); err != nil {
		return Header{}, fmt.Errorf("flv: read header: %w", unexpected(err))
	}
	return h, nil
}

// ReadTag reads the next tag and the PreviousTagSize after it, whose value
// is not checked. It returns io.EOF, unwrapped, when the stream ends cleanly
// before a tag, and an error wrapping io.ErrUnexpectedEOF when it ends inside
// one. Data is freshly allocated for each tag. Tags of unknown types are
// returned as they are; tags with the reserved or the filter (encryption)
// bits set are an error.
func (r *Reader) ReadTag() (Tag, error) {
	h := r.buf[:TagHeaderSize]
	if _, err := io.ReadFull(r.r, h); err != nil {
		if err == io.EOF {
			return Tag{}, io.EOF
		}
		return Tag{}, fmt.Errorf("flv: read tag header: %w", err)
	}
	if h[0]&0xc0 != 0 {
		return Tag{}, fmt.Errorf("flv: read tag header: reserved bits set in 0x%02x: %w", h[0], ErrInvalid)
	}
	if h[0]&0x20 != 0 {
		return Tag{}, fmt.Errorf("flv: read tag header: encrypted tag: %w", errors.ErrUnsupported)
	}
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if r.MaxTagSize > 0 && size > r.MaxTagSize {
		return Tag{}, fmt.Errorf("flv: read tag header: data size %d over %d: %w", size, r.MaxTagSize, ErrTooLarge)
	}
	t := Tag{
		Type:      h[0] & 0x1f,
		Timestamp: uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]),
	}
	// Reading the body and the PreviousTagSize after it in one go saves a
	// read call per tag; Data's capacity is clipped so appending to it
	// cannot overwrite anything.
	b, err := readBody(r.r, size+prevTagSizeLen)
	if err != nil {
		return Tag{}, fmt.Errorf("flv: read tag body: %w", err)
	}
	t.Data = b[:size:size]
	return t, nil
}

// readChunk is how much readBody allocates before any byte has arrived.
const readChunk = 64 << 10

// readBody reads exactly n bytes. Rather than allocating n bytes up front on
// the word of a size field, it grows the buffer as bytes arrive, so a peer
// that announces 16 MiB and then stalls costs at most readChunk.
func readBody(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, min(n, readChunk))
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
