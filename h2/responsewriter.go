package h2

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// responseWriter is a stream's http.ResponseWriter. It offers Flush,
// FlushError and SetWriteDeadline to http.ResponseController; Hijack it
// has not, so ResponseController reports http.ErrNotSupported, as for
// any HTTP/2 response.
type responseWriter struct {
	st      *stream
	req     *http.Request
	header  http.Header
	status  int  // 0 until WriteHeader
	sent    bool // the HEADERS frame is queued: the header is fixed
	buf     *[]byte
	written int64     // body bytes the handler wrote
	one     [1][]byte // a Write's p, as stream.write takes it
	// declared is the body's length as the header sent says it
	// (Content-Length), or -1. A Write past it fails, and a response that
	// ends short of it is reset, not ended: a client would take the short
	// body for the whole (RFC 9113, 8.1.1).
	declared int64
}

// smallWrites gathers a handler's small Writes, up to this, into one.
const smallWrites = 4 << 10

var smallPool = sync.Pool{New: func() any {
	b := make([]byte, 0, smallWrites)
	return &b
}}

func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader fixes the status. Informational statuses (1xx) are not sent.
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
}

// Write sends p as the response body: small Writes are gathered, others
// go to the stream at once, and return once the connection's writer has
// taken all of p (stream.write).
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.beyondDeclared(len(p)) {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.req.Method == http.MethodHead {
		// No body; what was written may still decide the Content-Type.
		if !w.sent && w.buffered() < sniffLen {
			w.gather(p[:min(len(p), sniffLen-w.buffered())])
		}
		return len(p), nil
	}
	if w.buffered()+len(p) <= smallWrites {
		w.gather(p)
		return len(p), nil
	}
	if err := w.flushBuffer(); err != nil {
		return 0, err
	}
	if len(p) < smallWrites {
		w.gather(p)
		return len(p), nil
	}
	w.sendHeader(p, false)
	return w.writeOne(p)
}

func (w *responseWriter) writeOne(p []byte) (int, error) {
	w.one[0] = p
	n, err := w.st.write(w.one[:])
	w.one[0] = nil
	return n, err
}

// WriteBuffers writes bufs as the body, as one Write of their
// concatenation would, without copying them together first: the
// connection's writer copies them into its frames. It is for handlers that
// hold what they send in pieces (web's live viewers: a batch of shared
// tags).
func (w *responseWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent || w.req.Method == http.MethodHead || !bodyAllowed(w.status) {
		// Rare: the header is still to be completed from the body.
		var written int64
		for _, b := range bufs {
			n, err := w.Write(b)
			if written += int64(n); err != nil {
				return written, err
			}
		}
		return written, nil
	}
	if w.declared >= 0 { // never for live viewers: a length is rare here
		size := 0
		for _, b := range bufs {
			size += len(b)
		}
		if w.beyondDeclared(size) {
			return 0, http.ErrContentLength
		}
	}
	if err := w.flushBuffer(); err != nil {
		return 0, err
	}
	n, err := w.st.write(bufs)
	w.written += int64(n)
	return int64(n), err
}

const sniffLen = 512 // what http.DetectContentType reads

// beyondDeclared reports whether n more body bytes would pass the
// Content-Length the handler set (sent or still to send).
func (w *responseWriter) beyondDeclared(n int) bool {
	if w.req.Method == http.MethodHead {
		return false // no body goes out; the length describes the GET's
	}
	declared := w.declared
	if !w.sent {
		declared = declaredLength(w.header)
	}
	return declared >= 0 && w.written+int64(n) > declared
}

// declaredLength is the Content-Length of h, or -1 if it has none that is
// a length.
func declaredLength(h http.Header) int64 {
	v, ok := h["Content-Length"]
	if !ok || len(v) != 1 {
		return -1
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// short reports whether the response, at its end, has less body than its
// header declared.
func (w *responseWriter) short() bool {
	return w.req.Method != http.MethodHead && bodyAllowed(w.status) && w.written < w.declared
}

func (w *responseWriter) buffered() int {
	if w.buf == nil {
		return 0
	}
	return len(*w.buf)
}

func (w *responseWriter) gather(p []byte) {
	if w.buf == nil {
		w.buf = smallPool.Get().(*[]byte)
	}
	*w.buf = append(*w.buf, p...)
}

func (w *responseWriter) releaseBuffer() {
	if w.buf != nil {
		*w.buf = (*w.buf)[:0]
		smallPool.Put(w.buf)
		w.buf = nil
	}
}

// flushBuffer sends the header and what small Writes gathered.
func (w *responseWriter) flushBuffer() error {
	var b []byte
	if w.buf != nil {
		b = *w.buf
	}
	w.sendHeader(b, false)
	if w.req.Method == http.MethodHead {
		return nil
	}
	defer w.releaseBuffer()
	_, err := w.writeOne(b)
	return err
}

// sendHeader queues the response's HEADERS, once, completed as net/http
// completes it: a Content-Type sniffed from the first bytes of the body, a
// Date, and a Content-Length when the handler has returned (end) with its
// whole body still gathered.
func (w *responseWriter) sendHeader(first []byte, end bool) {
	if w.sent {
		return
	}
	w.sent = true
	h := w.header
	if _, ok := h["Content-Length"]; ok && (w.status == http.StatusNoContent || declaredLength(h) < 0) {
		// A 204 has no length (RFC 9110, 8.6), and one that is no number
		// would make the client refuse the whole response as malformed:
		// dropped, as net/http drops them.
		h.Del("Content-Length")
	}
	if bodyAllowed(w.status) {
		if _, ok := h["Content-Type"]; !ok && len(first) > 0 {
			h.Set("Content-Type", http.DetectContentType(first))
		}
		if _, ok := h["Content-Length"]; !ok && end && (w.written > 0 || w.req.Method != http.MethodHead) {
			h.Set("Content-Length", strconv.FormatInt(w.written, 10))
		}
	}
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	w.declared = declaredLength(h)
	noBody := end && w.endsWithHeaders()
	c := w.st.c
	c.mu.Lock()
	c.queueHeadersLocked(w.st, w.status, h, noBody)
	c.mu.Unlock()
}

// finish ends the response of a handler that has returned.
func (w *responseWriter) finish() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		var b []byte
		if w.buf != nil {
			b = *w.buf
		}
		w.sendHeader(b, true)
		if w.endsWithHeaders() {
			w.releaseBuffer()
			w.st.c.endStream(w.st, true) // the HEADERS ended it
			return
		}
	}
	// A body short of its Content-Length is left to handlerDone, which
	// resets the stream.
	if w.flushBuffer() == nil && !w.short() {
		w.st.c.endStream(w.st, false)
	}
}

// endsWithHeaders reports whether a response whose handler has returned
// before its header was sent has nothing to follow the header.
func (w *responseWriter) endsWithHeaders() bool {
	return w.req.Method == http.MethodHead || !bodyAllowed(w.status) || w.written == 0 && !w.short()
}

// Flush sends the header and what is gathered; FlushError says whether
// that failed.
func (w *responseWriter) Flush() { _ = w.FlushError() }

func (w *responseWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.flushBuffer()
}

// SetWriteDeadline sets when a Write still waiting for the client fails,
// which resets the stream (http.ResponseController).
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	w.st.setWriteDeadline(t)
	return nil
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
