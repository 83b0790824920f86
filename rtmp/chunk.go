package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// DefaultChunkSize is the chunk size both directions start with.
	DefaultChunkSize = 128
	// DefaultMaxMessageSize bounds a media message when the caller gives no
	// limit.
	DefaultMaxMessageSize = 8 << 20
	// DefaultMaxCommandSize bounds every other message: commands, data,
	// shared objects, control. Real ones take a few hundred bytes (a
	// connect with every enhanced-RTMP property under 1 KiB, onMetaData
	// under 2 KiB); only media needs more.
	DefaultMaxCommandSize = 64 << 10

	maxChunkSize = 1<<31 - 1
	maxCSID      = 65599
	maxTimestamp = 0xffffff // larger values go in the extended timestamp

	// Real encoders use a handful of chunk streams; these bound what a hostile
	// peer can make the reader remember.
	maxChunkStreams   = 64
	maxPartialStreams = 32
	// Buffers start this small and double as data arrives, so a declared
	// length costs nothing until the bytes are really sent.
	minMessageBuffer = 4096
)

// errProtocol marks input that breaks the chunk stream rules.
var errProtocol = errors.New("protocol violation")

// chunkStream is what the reader remembers of one chunk stream: the header
// of its latest message (later headers may omit fields) and that message's
// payload so far.
type chunkStream struct {
	typ       uint8
	streamID  uint32
	length    uint32
	timestamp uint32
	// delta is added for a type-3 chunk that starts a message. After a
	// type-0 header it is that header's absolute timestamp, as librtmp and
	// ffmpeg read it.
	delta    uint32
	extended bool // the latest header carried an extended timestamp
	partial  bool // a message is under way: buf holds its first bytes
	buf      []byte
}

// ChunkReader reassembles messages from an RTMP chunk stream. It applies Set
// Chunk Size and Abort Message itself, as they belong to this layer.
type ChunkReader struct {
	r              *bufio.Reader
	maxMessageSize uint32 // media: audio, video, aggregate
	maxCommandSize uint32 // every other type
	maxBuffered    int    // bound on the capacity of all payload buffers together
	chunkSize      uint32
	streams        map[uint32]*chunkStream
	partials       int
	buffered       int
	bytesRead      uint64
	err            error
	hdr            [11]byte
}

// NewChunkReader returns a reader of the chunk stream in r, refusing media
// messages longer than maxMessageSize (0 means DefaultMaxMessageSize) and
// others longer than DefaultMaxCommandSize (or maxMessageSize if smaller).
// The limits apply to the length a message's header declares, before any
// of its bytes is buffered. If r is a *bufio.Reader it is used as is.
func NewChunkReader(r io.Reader, maxMessageSize uint32) *ChunkReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	cr := &ChunkReader{
		r:              br,
		maxCommandSize: DefaultMaxCommandSize,
		chunkSize:      DefaultChunkSize,
		streams:        make(map[uint32]*chunkStream),
	}
	cr.SetMaxMessageSize(maxMessageSize)
	return cr
}

// SetMaxMessageSize changes the limit of media messages (0 means
// DefaultMaxMessageSize) for the messages that start from now on. Other
// messages stay within their own limit, or this one if smaller.
func (cr *ChunkReader) SetMaxMessageSize(n uint32) {
	if n == 0 {
		n = DefaultMaxMessageSize
	}
	cr.maxMessageSize = n
	cr.maxCommandSize = min(cr.maxCommandSize, n)
	// Room for one largest message plus the smaller ones interleaved with
	// it, which are no larger than it.
	cr.maxBuffered = int(n) + min(int(n), 1<<20)
}

// SetMaxCommandSize changes the limit of messages other than media
// (commands, data, shared objects, control) for those that start from now
// on; it is at most the media limit.
func (cr *ChunkReader) SetMaxCommandSize(n uint32) {
	cr.maxCommandSize = min(n, cr.maxMessageSize)
}

// isMedia reports whether a message type carries audio or video, the only
// messages that may be as large as a keyframe.
func isMedia(typ uint8) bool {
	return typ == TypeAudio || typ == TypeVideo || typ == TypeAggregate
}

// BytesRead is the number of bytes consumed from the stream, as counted for
// acknowledgements.
func (cr *ChunkReader) BytesRead() uint64 { return cr.bytesRead }

// ReadMessage returns the next complete message. Its Payload is valid until
// the next call. io.EOF means the stream ended cleanly between chunks; any
// error is final.
func (cr *ChunkReader) ReadMessage() (Message, error) {
	if cr.err != nil {
		return Message{}, cr.err
	}
	for {
		csid, cs, err := cr.readChunk()
		if err != nil {
			cr.err = err
			return Message{}, err
		}
		if cs == nil {
			continue
		}
		m := Message{CSID: csid, Type: cs.typ, StreamID: cs.streamID, Timestamp: cs.timestamp, Payload: cs.buf}
		cs.buf = cs.buf[:0]
		if err := cr.applyControl(m); err != nil {
			cr.err = err
			return Message{}, err
		}
		return m, nil
	}
}

// readChunk reads one chunk and returns its stream when that chunk
// completed a message.
func (cr *ChunkReader) readChunk() (uint32, *chunkStream, error) {
	b, err := cr.r.ReadByte()
	if err != nil {
		return 0, nil, err // io.EOF here is a clean end
	}
	cr.bytesRead++
	format := b >> 6
	csid := uint32(b & 0x3f)
	switch csid {
	case 0:
		if err := cr.readFull(cr.hdr[:1]); err != nil {
			return 0, nil, err
		}
		csid = 64 + uint32(cr.hdr[0])
	case 1:
		if err := cr.readFull(cr.hdr[:2]); err != nil {
			return 0, nil, err
		}
		csid = 64 + uint32(cr.hdr[0]) + uint32(cr.hdr[1])<<8
	}

	cs := cr.streams[csid]
	if cs == nil {
		if format != 0 {
			return 0, nil, fmt.Errorf("%w: type %d chunk on chunk stream %d before any full header", errProtocol, format, csid)
		}
		if len(cr.streams) >= maxChunkStreams {
			return 0, nil, fmt.Errorf("%w: more than %d chunk streams", errProtocol, maxChunkStreams)
		}
		cs = &chunkStream{}
		cr.streams[csid] = cs
	}
	if err := cr.readHeader(csid, cs, format); err != nil {
		return 0, nil, err
	}

	n := min(cr.chunkSize, cs.length-uint32(len(cs.buf)))
	if err := cr.readPayload(cs, int(n)); err != nil {
		return 0, nil, err
	}
	if uint32(len(cs.buf)) < cs.length {
		return csid, nil, nil
	}
	cs.partial = false
	cr.partials--
	return csid, cs, nil
}

// readHeader reads the message header of a chunk in the given format and
// updates cs, starting a new message unless the chunk continues one.
func (cr *ChunkReader) readHeader(csid uint32, cs *chunkStream, format byte) error {
	if format != 3 && cs.partial {
		return fmt.Errorf("%w: type %d chunk on chunk stream %d in the middle of a message", errProtocol, format, csid)
	}
	size := [4]int{11, 7, 3, 0}[format]
	h := cr.hdr[:size]
	if err := cr.readFull(h); err != nil {
		return err
	}
	var ts uint32
	if format != 3 {
		ts = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		cs.extended = ts == maxTimestamp
	}
	if format <= 1 {
		length, typ := uint32(h[3])<<16|uint32(h[4])<<8|uint32(h[5]), h[6]
		limit := cr.maxMessageSize
		if !isMedia(typ) {
			limit = cr.maxCommandSize
		}
		if length > limit {
			return fmt.Errorf("%w: message of type %d of %d bytes on chunk stream %d exceeds the limit of %d", errProtocol, typ, length, csid, limit)
		}
		cs.length = length
		cs.typ = typ
	}
	if format == 0 {
		cs.streamID = binary.LittleEndian.Uint32(h[7:11])
	}
	if cs.extended {
		// Also present on type-3 chunks while the latest header had it.
		if err := cr.readFull(cr.hdr[:4]); err != nil {
			return err
		}
		if format != 3 || !cs.partial {
			ts = binary.BigEndian.Uint32(cr.hdr[:4])
		}
	}

	if cs.partial {
		return nil // a continuation chunk: the header says nothing new
	}
	switch format {
	case 0:
		cs.timestamp, cs.delta = ts, ts
	case 1, 2:
		cs.timestamp += ts
		cs.delta = ts
	case 3:
		if cs.extended {
			cs.delta = ts
		}
		cs.timestamp += cs.delta
	}
	if cr.partials >= maxPartialStreams {
		return fmt.Errorf("%w: more than %d messages under way at once", errProtocol, maxPartialStreams)
	}
	cs.partial = true
	cr.partials++
	cs.buf = cs.buf[:0]
	return nil
}

// readPayload appends n bytes to the message in cs, growing its buffer only
// as fast as bytes arrive.
func (cr *ChunkReader) readPayload(cs *chunkStream, n int) error {
	for n > 0 {
		if len(cs.buf) == cap(cs.buf) {
			if err := cr.grow(cs); err != nil {
				return err
			}
		}
		start := len(cs.buf)
		k := min(n, cap(cs.buf)-start)
		cs.buf = cs.buf[:start+k]
		if err := cr.readFull(cs.buf[start:]); err != nil {
			cs.buf = cs.buf[:start]
			return err
		}
		n -= k
	}
	return nil
}

// grow at least doubles the buffer of cs, up to the message length, within
// the reader's budget. Buffers kept for reuse by idle chunk streams are given
// up first.
func (cr *ChunkReader) grow(cs *chunkStream) error {
	newCap := min(max(2*cap(cs.buf), minMessageBuffer), int(cs.length))
	extra := newCap - cap(cs.buf)
	if cr.buffered+extra > cr.maxBuffered {
		for _, other := range cr.streams {
			if other != cs && !other.partial {
				cr.buffered -= cap(other.buf)
				other.buf = nil
			}
		}
		if cr.buffered+extra > cr.maxBuffered {
			return fmt.Errorf("%w: more than %d bytes of messages under way", errProtocol, cr.maxBuffered)
		}
	}
	buf := make([]byte, len(cs.buf), newCap)
	copy(buf, cs.buf)
	cs.buf = buf
	cr.buffered += extra
	return nil
}

// readFull reads len(p) bytes that must be there: the stream is inside a
// chunk, so even a clean end of input is unexpected.
func (cr *ChunkReader) readFull(p []byte) error {
	n, err := io.ReadFull(cr.r, p)
	cr.bytesRead += uint64(n)
	return unexpected(err)
}

// applyControl carries out the messages addressed to the chunk layer.
func (cr *ChunkReader) applyControl(m Message) error {
	if m.Type != TypeSetChunkSize && m.Type != TypeAbort {
		return nil
	}
	if len(m.Payload) < 4 {
		return fmt.Errorf("%w: control message type %d of %d bytes", errProtocol, m.Type, len(m.Payload))
	}
	v := binary.BigEndian.Uint32(m.Payload)
	if m.Type == TypeSetChunkSize {
		if v == 0 || v > maxChunkSize {
			return fmt.Errorf("%w: chunk size %d", errProtocol, v)
		}
		cr.chunkSize = v
		return nil
	}
	if cs := cr.streams[v]; cs != nil && cs.partial {
		cs.partial = false
		cs.buf = cs.buf[:0]
		cr.partials--
	}
	return nil
}

// ChunkWriter splits messages into chunks. Every message goes out with a
// full (type 0) header: the server sends few messages, so header compression
// would save nothing worth its state.
type ChunkWriter struct {
	w         *bufio.Writer
	chunkSize uint32
	hdr       [3 + 11 + 4]byte
}

// NewChunkWriter returns a writer of chunks to w, buffered until Flush.
func NewChunkWriter(w io.Writer) *ChunkWriter {
	return &ChunkWriter{w: bufio.NewWriter(w), chunkSize: DefaultChunkSize}
}

// SetChunkSize changes the size of the chunks written from now on. The peer
// must have been told first, with a Set Chunk Size message.
func (cw *ChunkWriter) SetChunkSize(n uint32) { cw.chunkSize = n }

// WriteMessage writes m as chunks on m.CSID.
func (cw *ChunkWriter) WriteMessage(m Message) error {
	if m.CSID < 2 || m.CSID > maxCSID {
		return fmt.Errorf("chunk stream %d out of range", m.CSID)
	}
	if len(m.Payload) > 0xffffff {
		return fmt.Errorf("message of %d bytes is too long", len(m.Payload))
	}
	ts := min(m.Timestamp, maxTimestamp)
	h := basicHeader(cw.hdr[:0], 0, m.CSID)
	h = append(h, byte(ts>>16), byte(ts>>8), byte(ts))
	n := len(m.Payload)
	h = append(h, byte(n>>16), byte(n>>8), byte(n), m.Type)
	h = binary.LittleEndian.AppendUint32(h, m.StreamID)
	if ts == maxTimestamp {
		h = binary.BigEndian.AppendUint32(h, m.Timestamp)
	}
	p := m.Payload
	for {
		if _, err := cw.w.Write(h); err != nil {
			return err
		}
		k := min(len(p), int(cw.chunkSize))
		if _, err := cw.w.Write(p[:k]); err != nil {
			return err
		}
		p = p[k:]
		if len(p) == 0 {
			return nil
		}
		h = basicHeader(cw.hdr[:0], 3, m.CSID)
		if ts == maxTimestamp {
			h = binary.BigEndian.AppendUint32(h, m.Timestamp)
		}
	}
}

// Flush sends what has been written.
func (cw *ChunkWriter) Flush() error { return cw.w.Flush() }

func basicHeader(dst []byte, format byte, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(dst, format<<6|byte(csid))
	case csid < 64+256:
		return append(dst, format<<6, byte(csid-64))
	default:
		return append(dst, format<<6|1, byte(csid-64), byte((csid-64)>>8))
	}
}
