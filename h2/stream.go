package h2

import (
	"context"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"golang.org/x/net/http2"
)

// stream is one request and its response. Its fields are under c.mu.
type stream struct {
	c      *conn
	id     uint32
	ctx    context.Context
	cancel context.CancelFunc

	closed       bool  // reset, or ended both ways: no longer in c.streams
	remoteClosed bool  // the client sent END_STREAM
	err          error // why writes fail, once closed
	body         *body // nil: the request had none

	sendWindow int64
	recvWindow int64 // what the client may still send on the stream

	// The handler's Write in progress: the writer takes the bytes of
	// pending (the handler's slices, never changed) from pendIdx and
	// pendOff on, counts them in taken and what is left in left, and
	// wrote tells the handler. pending is nil when no Write waits.
	pending  [][]byte
	pendIdx  int
	pendOff  int
	left     int
	taken    int
	queued   bool // in c.ready
	wrote    chan struct{}
	deadline time.Time
	timer    *time.Timer // fires at timerAt, at the latest at deadline
	timerAt  time.Time
}

// onHeaders opens a stream, or takes a request's trailers.
func (c *conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol) // clients open odd streams
	}
	if id <= c.maxClientID {
		st := c.streams[id]
		switch {
		case st == nil:
			// A stream that has ended, or one skipped (RFC 9113, 5.1.1):
			// HEADERS cannot come.
			return http2.ConnectionError(http2.ErrCodeProtocol)
		case st.remoteClosed:
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
		case !f.StreamEnded() || len(f.PseudoFields()) > 0:
			// Trailers end the stream, and have no pseudo-header (RFC 9113, 8.1).
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
		}
		// Trailers: dropped, but they end the body.
		return c.endBodyLocked(st)
	}
	c.maxClientID = id
	if c.goingAway {
		return nil // after our GOAWAY's last stream: ignored (RFC 9113, 6.8)
	}
	if c.ctrlQueued > maxQueuedControl {
		// Responses the client does not read pile up: those of requests
		// answered by their HEADERS alone cost no stream while they wait.
		return errFlood
	}
	if len(c.streams) >= int(c.maxStreams) || c.handlers >= int(c.maxStreams) {
		// Over the limit, or under it with handlers of closed streams
		// (the client reset them) still on their way out: refused, which
		// the client may retry. A client that resets faster than that
		// runs out of its reset budget (onReset).
		return c.queueControlLocked(appendRSTStream(c.ctrl, id, http2.ErrCodeRefusedStream))
	}
	if f.Truncated {
		return c.answerLocked(id, f.StreamEnded(), http.StatusRequestHeaderFieldsTooLarge)
	}
	req, err := c.newRequest(f)
	if err != nil {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
	}
	if req.ContentLength > int64(c.maxBody) {
		return c.answerLocked(id, f.StreamEnded(), http.StatusRequestEntityTooLarge)
	}
	st := &stream{c: c, id: id, sendWindow: c.peerWindow, recvWindow: int64(c.maxBody),
		wrote: make(chan struct{}, 1), remoteClosed: f.StreamEnded()}
	st.ctx, st.cancel = context.WithCancel(c.ctx)
	req = req.WithContext(st.ctx)
	if !st.remoteClosed {
		st.body = &body{st: st, declared: req.ContentLength, wake: make(chan struct{}, 1)}
		req.Body = st.body
	}
	c.streams[id] = st
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.handlers++
	go c.runHandler(st, req)
	return nil
}

// answerLocked answers a request without a handler, with an error status
// and no body, and resets the stream if the client is still sending it.
func (c *conn) answerLocked(id uint32, ended bool, status int) error {
	st := &stream{c: c, id: id}
	c.queueHeadersLocked(st, status, nil, true)
	if !ended {
		c.ctrl = appendRSTStream(c.ctrl, id, http2.ErrCodeNo)
	}
	return c.queueControlLocked(c.ctrl)
}

func (c *conn) runHandler(st *stream, req *http.Request) {
	w := &responseWriter{st: st, req: req, header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.srv.logger().Error("h2: handler panic", "remote", c.remoteAddr, "url", req.URL.String(), "panic", p, "stack", string(debug.Stack()))
			}
			c.mu.Lock()
			_ = c.resetStreamLocked(st, http2.ErrCodeInternal, errStreamDone)
			c.mu.Unlock()
		}
		c.handlerDone(st)
	}()
	c.handler.ServeHTTP(w, req)
	w.finish()
}

// handlerDone releases what a handler held: its count, its stream if the
// response did not end it, its body's share of the connection window.
func (c *conn) handlerDone(st *stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers--
	if !st.closed {
		_ = c.resetStreamLocked(st, http2.ErrCodeInternal, errStreamDone)
	}
	if st.body != nil {
		st.body.closeLocked()
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	st.cancel()
}

// endStream sends the end of a response whose data have all been taken,
// unless its HEADERS carried it (ended), and closes the stream; if the
// client is still sending its request, it is told to stop (RFC 9113, 8.1).
func (c *conn) endStream(st *stream, ended bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.closed || c.done {
		return
	}
	if !ended {
		c.ctrl = appendData(c.ctrl, st.id, http2.FlagDataEndStream, nil)
	}
	if !st.remoteClosed {
		c.ctrl = appendRSTStream(c.ctrl, st.id, http2.ErrCodeNo)
	}
	c.closeStreamLocked(st, errStreamDone)
	c.wakeWriter()
}

// resetStreamLocked ends st with RST_STREAM code.
func (c *conn) resetStreamLocked(st *stream, code http2.ErrCode, err error) error {
	if st.closed {
		return nil
	}
	c.closeStreamLocked(st, err)
	return c.queueControlLocked(appendRSTStream(c.ctrl, st.id, code))
}

// closeStreamLocked takes st out of the connection: its Write and body
// Read fail with err, its data are dropped, its request's context ends.
func (c *conn) closeStreamLocked(st *stream, err error) {
	if st.closed {
		return
	}
	st.closed = true
	st.err = err
	delete(c.streams, st.id)
	st.pending, st.left = nil, 0
	signal(st.wrote)
	if st.body != nil {
		st.body.dropLocked()
	}
	st.cancel()
	c.armIdleLocked()
	c.closeIfDoneLocked()
}

// scheduleLocked puts st in the writer's turn if it has data to send and
// window to send them with. The caller wakes the writer (or takes the
// turn).
func (c *conn) scheduleLocked(st *stream) {
	if st.queued || st.closed || st.left == 0 || st.sendWindow <= 0 {
		return
	}
	st.queued = true
	c.ready.push(st)
}

// write sends p on the stream: it waits until turns of the writer have
// taken all of bufs (within flow control), or the stream or connection
// fails, or the write deadline passes. While no turn is under way, it
// takes them itself: then it may wait for the connection's write, up to
// the Server's WriteTimeout.
func (st *stream) write(bufs [][]byte) (int, error) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total == 0 {
		return 0, nil
	}
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.err != nil {
		return 0, st.err
	}
	if !st.deadline.IsZero() && !time.Now().Before(st.deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	st.pending, st.pendIdx, st.pendOff, st.left, st.taken = bufs, 0, 0, total, 0
	c.scheduleLocked(st)
	// Take the turns while no one else does and they take our data.
	for st.queued && !c.writing && !c.closing && c.sendWindow > 0 {
		if c.turnLocked() != nil {
			break
		}
	}
	if st.pending != nil && !c.writing {
		c.wakeWriter()
	}
	for st.pending != nil {
		c.mu.Unlock()
		<-st.wrote
		c.mu.Lock()
	}
	if st.taken == total {
		return st.taken, nil
	}
	return st.taken, st.err
}

// appendPendingLocked appends the next n bytes of the Write in progress
// to b.
func (st *stream) appendPendingLocked(b []byte, n int) []byte {
	for n > 0 {
		p := st.pending[st.pendIdx][st.pendOff:]
		k := min(len(p), n)
		b = append(b, p[:k]...)
		n -= k
		st.pendOff += k
		if st.pendOff == len(st.pending[st.pendIdx]) {
			st.pendIdx, st.pendOff = st.pendIdx+1, 0
		}
	}
	return b
}

// setWriteDeadline sets when a Write waiting for the client fails: the
// stream is then reset, since part of the data may have gone. A viewer
// moves its deadline on and on (web's viewers once per sixteenth of their
// timeout); the timer is moved only when the deadline comes earlier, and
// when it fires before the deadline it sets itself again, so that moving
// the deadline later costs no timer operation.
func (st *stream) setWriteDeadline(t time.Time) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st.deadline = t
	switch {
	case t.IsZero():
	case st.timer == nil:
		st.timer = time.AfterFunc(time.Until(t), st.onDeadline)
		st.timerAt = t
	case t.Before(st.timerAt):
		st.timer.Reset(time.Until(t))
		st.timerAt = t
	}
}

func (st *stream) onDeadline() {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.deadline.IsZero() || st.closed {
		return
	}
	if wait := time.Until(st.deadline); wait > 0 {
		st.timer.Reset(wait)
		st.timerAt = st.deadline
		return
	}
	if st.pending != nil {
		_ = c.resetStreamLocked(st, http2.ErrCodeCancel, os.ErrDeadlineExceeded)
	}
}

// signal wakes the one goroutine that may wait on ch, capacity 1.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// streamQueue is the streams with data to send, in turn: a ring.
type streamQueue struct {
	items      []*stream
	head, size int
}

func (q *streamQueue) push(st *stream) {
	if q.size == len(q.items) {
		items := make([]*stream, max(8, 2*len(q.items)))
		for i := range q.size {
			items[i] = q.items[(q.head+i)%len(q.items)]
		}
		q.items, q.head = items, 0
	}
	q.items[(q.head+q.size)%len(q.items)] = st
	q.size++
}

func (q *streamQueue) pop() *stream {
	if q.size == 0 {
		return nil
	}
	st := q.items[q.head]
	q.items[q.head] = nil
	q.head = (q.head + 1) % len(q.items)
	q.size--
	return st
}
