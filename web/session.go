package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/relay"
)

// Session is one live viewer, from its admission to the end of its
// response: the writer of the response, the viewer's cursor in the stream,
// its admission by the access rules, its places in the viewer counts (the
// server's, its connection's) and the count of its request. On HTTP/1.x the
// response outlives its handler (the connection is taken over, see
// newFLVWriter), so the session, not the handler, holds all of that, and
// gives it back exactly once, in Close.
type Session struct {
	live      *Live
	viewer    *relay.Viewer
	out       flvWriter
	pace      pacer
	ex        *exchange
	leaveConn func()

	app, stream, remote string

	once sync.Once
	done chan struct{}
}

// Close ends the session, whichever comes first: its write loop ending
// (the stream ended, a write failed), the client hanging up, the request's
// context ending. The first call leaves the stream, which stops the write
// loop's cursor; gives the viewer's admission and places in the counts
// back; counts the request; and wakes Done. Later calls do nothing. It is
// safe from any goroutine.
func (s *Session) Close() {
	s.once.Do(func() {
		s.viewer.Leave()
		s.leaveConn()
		s.ex.end(http.StatusOK)
		s.live.viewers.done()
		close(s.done)
	})
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// run sends the stream to the viewer until either ends, then ends the
// session and logs it.
func (s *Session) run() {
	start := time.Now()
	n, reason := copyStream(s.viewer, s.out, s.pace)
	s.Close()
	level := slog.LevelDebug
	if s.live.AccessLog {
		level = slog.LevelInfo
	}
	s.live.logger().Log(context.Background(), level, "viewer session", "app", s.app, "stream", s.stream, "remote", s.remote,
		"status", http.StatusOK, "bytes", n, "duration", time.Since(start).Round(time.Millisecond),
		"skips", s.viewer.Skips(), "reason", reason)
}

// viewerCount counts the live viewers' sessions: the server's one count of
// viewers, which the cap on viewers, the coalescing of writes, the drain
// and Live.Active read. (Each stream's share of it is its ring's open
// cursors, relay.Stream.Viewers, which the window and the pulls need; the
// access rules count open requests, VOD ones too, per path and client. A
// session holds its place in both and gives them back in the same Close.)
type viewerCount struct {
	n    atomic.Int64 // read without the lock by the viewers' pacers
	mu   sync.Mutex
	idle chan struct{} // closed when n falls to 0; nil while n is 0
}

// add counts a viewer in, unless max (0: no cap) are counted already.
func (c *viewerCount) add(max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n.Load()
	if max > 0 && n >= int64(max) {
		return false
	}
	if n == 0 {
		c.idle = make(chan struct{})
	}
	c.n.Store(n + 1)
	return true
}

// done counts a viewer out.
func (c *viewerCount) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n.Add(-1) == 0 {
		close(c.idle)
		c.idle = nil
	}
}

// wait waits until no viewer is counted, or ctx ends.
func (c *viewerCount) wait(ctx context.Context) error {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exchange is the bookkeeping of one request that lasts as long as its
// response: its count in the metrics (CountRequests) and its admission by
// the access rules (guarded). Each is given back by the wrapper that took
// it when the handler returns, unless a live viewer's session took the
// exchange over: then the session's Close gives both back, on every HTTP
// version at the same point, when the viewer's response ends.
type exchange struct {
	count     *requestCount   // nil without CountRequests
	admission *auth.Admission // nil without a guard
	taken     bool            // by a session, before the handler returned
}

type exchangeKey struct{}

// exchangeOf returns the exchange of r, starting one (in the returned
// request's context) if r has none.
func exchangeOf(r *http.Request) (*http.Request, *exchange) {
	if ex, ok := r.Context().Value(exchangeKey{}).(*exchange); ok {
		return r, ex
	}
	ex := new(exchange)
	return r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)), ex
}

// end counts the request with status and gives its admission back.
func (ex *exchange) end(status int) {
	if ex.count != nil {
		ex.count.end(status)
	}
	ex.admission.Release()
}
