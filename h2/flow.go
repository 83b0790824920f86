package h2

import (
	"io"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// Receiving flow control: a stream's window is the most its body may
// have (Server.MaxRequestBodySize), and is never opened further, so a body
// is never buffered beyond it; the connection's window, 65535, is given
// back as handlers read or drop what they were sent, so a connection's
// bodies buffered at once never exceed it.

// onData takes a DATA frame of a request body.
func (c *conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	size := int64(f.Length) // padding included: it counts against the windows
	if c.idleLocked(id) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	if size > c.recvWindow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= size
	data := f.Data()
	st := c.streams[id]
	if st == nil || st.remoteClosed {
		// A closed stream, or one whose body has ended: the bytes are
		// dropped, and given back to the connection.
		c.creditLocked(size)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	if size > st.recvWindow {
		c.creditLocked(size)
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl}
	}
	st.recvWindow -= size
	if size == 0 && !f.StreamEnded() && !c.empties.spend(time.Now()) {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	c.creditLocked(size - int64(len(data))) // the padding
	b := st.body
	b.received += int64(len(data))
	if b.declared >= 0 && b.received > b.declared {
		// RFC 9113, 8.1.1. The bytes are not handed to the handler, which
		// would read past the length before the reset reached it.
		c.creditLocked(int64(len(data)))
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if b.closed {
		c.creditLocked(int64(len(data)))
	} else {
		b.buf = append(b.buf, data...)
		signal(b.wake)
	}
	if f.StreamEnded() {
		return c.endBodyLocked(st)
	}
	return nil
}

// endBodyLocked marks a request's body complete: the client has sent
// END_STREAM. A body shorter than its Content-Length is malformed.
func (c *conn) endBodyLocked(st *stream) error {
	st.remoteClosed = true
	b := st.body
	if b == nil {
		return nil
	}
	if b.declared >= 0 && b.received != b.declared {
		// Not marked complete: the reset comes after c.mu is let go, and
		// the handler's Read must fail then, not find the end first.
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol}
	}
	b.eof = true
	signal(b.wake)
	return nil
}

// creditLocked gives n bytes received on the connection back to its
// window, in steps, so that WINDOW_UPDATE frames stay few.
func (c *conn) creditLocked(n int64) {
	c.recvCredit += n
	if c.recvCredit < recvCreditStep || c.done {
		return
	}
	c.ctrl = appendWindowUpdate(c.ctrl, 0, uint32(c.recvCredit))
	c.recvWindow += c.recvCredit
	c.recvCredit = 0
	c.wakeWriter()
}

// body is a request's body as it arrives. Its fields are under c.mu.
type body struct {
	st       *stream
	buf      []byte
	declared int64 // Content-Length, or -1
	received int64
	eof      bool // END_STREAM received
	closed   bool // the handler closed it or returned: data are dropped
	wake     chan struct{}
}

func (b *body) Read(p []byte) (int, error) {
	c := b.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case b.closed:
			return 0, http.ErrBodyReadAfterClose
		case len(b.buf) > 0:
			n := copy(p, b.buf)
			b.buf = b.buf[n:]
			if len(b.buf) == 0 {
				b.buf = nil
			}
			c.creditLocked(int64(n))
			return n, nil
		case b.st.err != nil: // reset: what came is not the whole body
			return 0, b.st.err
		case b.eof:
			return 0, io.EOF
		case b.received >= int64(c.maxBody):
			// The window is spent and the body goes on.
			return 0, &http.MaxBytesError{Limit: int64(c.maxBody)}
		}
		c.mu.Unlock()
		<-b.wake
		c.mu.Lock()
	}
}

func (b *body) Close() error {
	c := b.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	b.closeLocked()
	return nil
}

// closeLocked drops what is buffered and whatever comes after.
func (b *body) closeLocked() {
	b.closed = true
	b.dropLocked()
}

// dropLocked gives what is buffered back to the connection and wakes a
// reader.
func (b *body) dropLocked() {
	b.st.c.creditLocked(int64(len(b.buf)))
	b.buf = nil
	signal(b.wake)
}
