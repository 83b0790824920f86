package web

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// flvWriter sends a viewer's batches of shared tag bytes.
type flvWriter interface {
	// WriteBatch sends bufs, all of it or an error, within the write
	// timeout, and returns how many bytes of bufs were sent: the stream's
	// bytes, without the transport's framing, so that the figure is the
	// same over every HTTP version.
	WriteBatch(bufs [][]byte) (int64, error)
	End()   // the stream is over: finish the response properly
	Close() // the viewer failed or must go: abort the response
	// detached reports whether the response goes on without its handler
	// (a taken-over HTTP/1.x connection), which may then return.
	detached() bool
}

// newFLVWriter sends the response header and returns the writer for the body.
// On HTTP/1.x it takes over the connection, so that each batch leaves in one
// vectored write (chunk header, tags, chunk trailer) instead of one write per
// tag through net/http's buffering. Where the connection cannot be taken
// (HTTP/2 and later), it writes through the ResponseWriter.
//
// gone is called when the client hangs up, so that a viewer of a stream
// with nothing to send (a publisher in its grace period) is not kept until
// the next write fails.
func newFLVWriter(w http.ResponseWriter, r *http.Request, timeout time.Duration, gone func()) (flvWriter, error) {
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		// The connection ends with the response: the client must not
		// reuse it, and closes its side once it has read the end.
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(http.StatusOK)
	// Flushing puts the header on the wire before the hijack, which keeps it,
	// and lets the player know at once that the stream exists.
	if err := rc.Flush(); err != nil {
		return nil, err
	}
	conn, _, err := rc.Hijack()
	switch {
	case err == nil:
		// net/http chose chunked framing for HTTP/1.1 and a plain body
		// ended by closing the connection for HTTP/1.0.
		go watchHangUp(conn, gone)
		// A TLS connection has no vectored write: it would seal each tag
		// in a record of its own and send it with a system call. Its
		// records leave together if newBatchListener is beneath it.
		_, gather := conn.(*tls.Conn)
		return &connWriter{conn: conn, chunked: r.ProtoAtLeast(1, 1), gather: gather, held: heldOutput(conn), timeout: timeout}, nil
	case errors.Is(err, http.ErrNotSupported):
		return &responseWriter{w: w, rc: rc, timeout: timeout, buffers: buffersWriterOf(w)}, nil
	default:
		return nil, err
	}
}

// watchHangUp reads the taken-over connection, on which a viewer sends
// nothing after its request, until it fails: the client hung up, or we
// closed it, or the response ended and the client took too long to hang up
// (End's read deadline). Then the connection is closed. It costs a small
// goroutine per viewer and finds a gone viewer at once instead of at the
// next write.
func watchHangUp(conn net.Conn, gone func()) {
	var buf [64]byte
	for {
		if _, err := conn.Read(buf[:]); err != nil {
			gone()
			_ = conn.Close()
			return
		}
	}
}

type connWriter struct {
	conn     net.Conn
	chunked  bool
	gather   bool       // write through writeGathered instead of writev
	held     *batchConn // beneath a TLS conn: holds a batch's records
	timeout  time.Duration
	deadline lazyDeadline
	vec      net.Buffers // scratch, reused across batches
	pending  net.Buffers // what of vec is not written yet, during a write
	head     []byte      // scratch for the chunk size line
}

var crlf = []byte("\r\n")

func (c *connWriter) WriteBatch(bufs [][]byte) (int64, error) {
	if at, due := c.deadline.next(c.timeout); due {
		if err := c.conn.SetWriteDeadline(at); err != nil {
			return 0, err
		}
	}
	vec := c.vec[:0]
	size := 0
	for _, b := range bufs {
		size += len(b)
	}
	if c.chunked {
		c.head = append(strconv.AppendInt(c.head[:0], int64(size), 16), crlf...)
		vec = append(vec, c.head)
	}
	vec = append(vec, bufs...)
	if c.chunked {
		vec = append(vec, crlf)
	}
	c.vec = vec
	if cap(vec) > largeBatch && len(vec) < largeBatch/4 {
		c.vec = nil // see largeBatch
	}
	var n int64
	var err error
	if c.gather {
		n, err = c.writeRecords(vec)
	} else {
		// WriteTo consumes its receiver: give it a copy of the slice
		// header and keep ours for the next batch. The copy is a field,
		// which a local variable, escaping, would not be: an
		// allocation per write.
		c.pending = vec
		n, err = c.pending.WriteTo(c.conn)
		c.pending = nil
	}
	clear(vec) // no stale references to tags the window has dropped
	if err != nil {
		sent := n
		if c.chunked {
			sent -= int64(len(c.head))
		}
		return min(max(sent, 0), int64(size)), err
	}
	return int64(size), nil
}

// writeRecords seals vec in TLS records and, where it can, writes them in
// one system call instead of one per record.
func (c *connWriter) writeRecords(vec [][]byte) (int64, error) {
	if c.held == nil {
		return writeGathered(c.conn, vec, gatherSize)
	}
	c.held.Hold()
	n, err := writeGathered(c.conn, vec, gatherSize)
	if rerr := c.held.Release(); err == nil && rerr != nil {
		// What crypto/tls took as written may not have left.
		return 0, rerr
	}
	return n, err
}

// lastChunk ends a chunked body (RFC 9112, 7.1).
var lastChunk = []byte("0\r\n\r\n")

// End sends the end of the body, the last chunk or (HTTP/1.0) the end of
// the connection's output, and leaves the connection to watchHangUp: a
// close while the client's input is unread would reset the connection, and
// the client could lose the end.
func (c *connWriter) End() {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if c.chunked {
		if _, err := c.conn.Write(lastChunk); err != nil {
			_ = c.conn.Close()
			return
		}
	}
	closer, ok := c.conn.(interface{ CloseWrite() error }) // TCP, TLS
	if !ok || closer.CloseWrite() != nil {
		_ = c.conn.Close()
		return
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
}

func (c *connWriter) Close() { _ = c.conn.Close() }

func (c *connWriter) detached() bool { return true }

type responseWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	deadline lazyDeadline
	buffers  buffersWriter // HTTP/2 (package h2); nil: Writes of gatherSize
}

// lazyDeadline is a viewer's write deadline, set a sixteenth of the
// timeout longer than the timeout and set again only once that has
// passed, not for every write: each setting moves a timer (the runtime's,
// or the stream's under its connection's lock). Every write has at least
// the timeout, at most 17/16 of it.
type lazyDeadline struct{ at time.Time }

// next returns the deadline to set before a write, and whether one is due.
func (d *lazyDeadline) next(timeout time.Duration) (time.Time, bool) {
	now := time.Now()
	if d.at.Sub(now) >= timeout {
		return d.at, false
	}
	d.at = now.Add(timeout + timeout/16)
	return d.at, true
}

// buffersWriter is a ResponseWriter that takes a batch in pieces, without
// their being copied together first: package h2's, whose connection's
// writer copies them into its frames anyway.
type buffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// buffersWriterOf finds the buffersWriter beneath w's wrappers (the
// metrics' statusRecorder, whose Write does nothing more once the header
// is sent), or nil.
func buffersWriterOf(w http.ResponseWriter) buffersWriter {
	for {
		if bw, ok := w.(buffersWriter); ok {
			return bw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// WriteBatch writes the batch, then flushes once: HTTP/2 hands it to the
// connection's writer in one call (WriteBuffers), and HTTP/3 frames each
// Write as a DATA frame of its own, so one Write per gatherSize of the
// batch (see writeGathered) instead of per tag is what makes these
// viewers' cost follow their writes, as on HTTP/1.1.
func (w *responseWriter) WriteBatch(bufs [][]byte) (int64, error) {
	if at, due := w.deadline.next(w.timeout); due {
		if err := w.rc.SetWriteDeadline(at); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return 0, err
		}
	}
	var n int64
	var err error
	if w.buffers != nil {
		n, err = w.buffers.WriteBuffers(bufs)
	} else {
		n, err = writeGathered(w.w, bufs, gatherSize)
	}
	if err != nil {
		return n, err
	}
	return n, w.rc.Flush()
}

// gatherSize is the size of writeGathered's Writes: two full TLS records,
// and for HTTP/3 about 120 ms of a 2 Mbit/s stream in one Write.
const gatherSize = 32 << 10

// writeGathered writes bufs to w in Writes of size bytes (the last one
// shorter), for writers that cost per call, not per byte (HTTP/2 and
// HTTP/3 streams, TLS records). Small tags are copied together into a
// pooled buffer, which a viewer holds while its Write waits for the client
// and which is therefore small; a whole Write's worth of one tag (a part of
// a keyframe) goes from the shared bytes without a copy.
func writeGathered(w io.Writer, bufs [][]byte, size int) (int64, error) {
	pooled := batchPool.Get().(*[]byte)
	defer batchPool.Put(pooled)
	batch := (*pooled)[:0:size]
	var written int64
	for _, b := range bufs {
		for len(b) > 0 {
			var p []byte
			if len(batch) == 0 && len(b) >= size {
				p, b = b[:size], b[size:]
			} else {
				k := copy(batch[len(batch):size], b)
				batch, b = batch[:len(batch)+k], b[k:]
				if len(batch) < size {
					continue
				}
				p, batch = batch, batch[:0]
			}
			n, err := w.Write(p)
			if written += int64(n); err != nil {
				return written, err
			}
		}
	}
	if len(batch) > 0 {
		n, err := w.Write(batch)
		if written += int64(n); err != nil {
			return written, err
		}
	}
	return written, nil
}

var batchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, gatherSize)
	return &b
}}

// The response ends when the handler returns, in both cases.
func (w *responseWriter) End()           {}
func (w *responseWriter) Close()         {}
func (w *responseWriter) detached() bool { return false }
