package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/relay"
)

// discard is a viewer's writer that takes every batch.
type discard struct{}

func (discard) WriteBatch(bufs [][]byte) (int64, error) {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	return n, nil
}
func (discard) End()           {}
func (discard) Close()         {}
func (discard) detached() bool { return true }

// TestSessionEndsOnceWhenCloseRacesTheStreamEnd ends a session from
// several goroutines at the moment its stream ends, which ends its write
// loop: it gives everything back exactly once. A second end would count
// the viewer out twice, count its request twice, hand back a place in the
// access rules it no longer holds, or close Done twice (a panic).
func TestSessionEndsOnceWhenCloseRacesTheStreamEnd(t *testing.T) {
	for i := range 50 {
		hub := relay.NewHub(relay.Config{})
		ts := &testServer{t: t, hub: hub}
		ts.publish("live", "a")
		ts.gop(3)
		stream := hub.Lookup("live", "a")
		// Two places per path: one for another viewer, one for the
		// session's.
		guard, err := auth.New(auth.Config{Play: []auth.Scope{{Prefix: "/", MaxViewers: 2}}})
		if err != nil {
			t.Fatal(err)
		}
		admit := func() (*auth.Admission, bool) {
			_, a, ok := guard.Admit(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/live/a.flv", nil))
			return a, ok
		}
		other, _ := admit()
		admission, ok := admit()
		if !ok {
			t.Fatal("the session's viewer refused")
		}
		reg := prometheus.NewRegistry()
		metrics := NewMetrics(reg, hub, 10)
		l := &Live{Hub: hub}
		l.viewers.add(0)
		conns := 1
		s := &Session{live: l, viewer: stream.Join(buffer.AllTracks), out: discard{}, pace: newPacer(&l.viewers.n, &l.load, Limits{}),
			ex:        &exchange{count: &requestCount{m: metrics, proto: "http1"}, admission: admission},
			leaveConn: func() { conns-- }, done: make(chan struct{})}
		ran := make(chan struct{})
		go func() {
			defer close(ran)
			s.run()
		}()
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				<-start
				s.Close()
			})
		}
		close(start)
		ts.pub.End() // the write loop ends, and ends the session too
		wg.Wait()
		<-ran
		<-s.Done()

		if n := l.Active(); n != 0 {
			t.Fatalf("run %d: %d viewers counted after the session ended, want 0", i, n)
		}
		if n := stream.Viewers(); n != 0 {
			t.Fatalf("run %d: the stream counts %d viewers, want 0", i, n)
		}
		if conns != 0 {
			t.Fatalf("run %d: the connection counts %d viewers, want 0", i, conns)
		}
		if n := requestsByProto(t, reg)["2xx http1"]; n != 1 {
			t.Fatalf("run %d: the request counted %v times, want once", i, n)
		}
		// The session gave back its own place and not the other viewer's.
		if _, ok := admit(); !ok {
			t.Fatalf("run %d: the session's place was not given back", i)
		}
		if _, ok := admit(); ok {
			t.Fatalf("run %d: a place given back twice: three viewers on a path of two", i)
		}
		other.Release()
		guard.Close()
		hub.Close()
	}
}

// TestWaitReturnsWhenTheLastViewerLeaves: Live.Wait is an event, not a
// poll: it returns when the count falls to 0, and at once when it is 0.
func TestWaitReturnsWhenTheLastViewerLeaves(t *testing.T) {
	var c viewerCount
	if err := c.wait(context.Background()); err != nil {
		t.Fatalf("no viewer: %v", err)
	}
	c.add(0)
	c.add(0)
	waited := make(chan error, 1)
	go func() { waited <- c.wait(context.Background()) }()
	c.done()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.wait(ctx); err != context.Canceled {
		t.Fatalf("a viewer still counted, ended ctx: %v, want context.Canceled", err)
	}
	select {
	case err := <-waited:
		t.Fatalf("Wait returned (%v) while a viewer is counted", err)
	default:
	}
	c.done()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("Wait did not return when the last viewer left")
	}
	if c.add(1); c.add(1) {
		t.Fatal("the cap of 1 let a second viewer in")
	}
}

// newPlayingSession is a session of a viewer of a stream with a group of
// pictures to send, counted by its Live, writing to out.
func newPlayingSession(t *testing.T, out flvWriter) (*Session, *Live, *relay.Stream) {
	hub := relay.NewHub(relay.Config{})
	t.Cleanup(hub.Close)
	ts := &testServer{t: t, hub: hub}
	ts.publish("live", "a")
	ts.gop(3)
	stream := hub.Lookup("live", "a")
	l := &Live{Hub: hub}
	l.viewers.add(0)
	return &Session{live: l, viewer: stream.Join(buffer.AllTracks), out: out, pace: newPacer(&l.viewers.n, &l.load, Limits{}),
		ex: &exchange{}, leaveConn: func() {}, done: make(chan struct{})}, l, stream
}

// blockedWriter is a viewer's writer whose first batch waits until
// released, as a write to a client that does not read waits for its
// deadline.
type blockedWriter struct {
	discard
	writing, release chan struct{}
	once             sync.Once
}

func (w *blockedWriter) WriteBatch(bufs [][]byte) (int64, error) {
	w.once.Do(func() {
		close(w.writing)
		<-w.release
	})
	return w.discard.WriteBatch(bufs)
}

// TestSessionCountsUntilItsLastWriteReturns closes a session while its
// write loop waits in a write (a client hanging up, a reset stream): the
// viewer stays counted, drain waits for it and its admission stays held
// until the write returns and the loop ends; then all is given back once.
// Counting it out at Close would let drain return, and the cap on viewers
// admit another, while its goroutine still writes.
func TestSessionCountsUntilItsLastWriteReturns(t *testing.T) {
	out := &blockedWriter{writing: make(chan struct{}), release: make(chan struct{})}
	s, l, stream := newPlayingSession(t, out)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		s.run()
	}()
	<-out.writing
	s.Close()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ended); err == nil || l.Active() != 1 {
		t.Fatalf("closed while its write waits: %d viewers counted, Wait %v; want 1, and Wait to go on waiting", l.Active(), err)
	}
	select {
	case <-s.Done():
		t.Fatal("Done while the session's write still waits")
	default:
	}
	close(out.release)
	ctx, stop := context.WithTimeout(context.Background(), time.Minute) // generous: an event, not a timing
	defer stop()
	if err := l.Wait(ctx); err != nil {
		t.Fatalf("the write returned, the loop ended: %v", err)
	}
	<-ran
	<-s.Done()
	if n := stream.Viewers(); n != 0 {
		t.Fatalf("the stream counts %d viewers, want 0", n)
	}
}

// panickingWriter is a viewer's writer with a bug.
type panickingWriter struct{ discard }

func (panickingWriter) WriteBatch([][]byte) (int64, error) { panic(http.ErrAbortHandler) }

// TestSessionEndsWhenItsLoopPanics: a write loop that panics, which
// net/http recovers on HTTP/2 and HTTP/3, still ends its session: the
// viewer is counted out (drain would otherwise wait for it until its
// deadline, and the cap count it for ever) and its admission given back.
func TestSessionEndsWhenItsLoopPanics(t *testing.T) {
	s, l, _ := newPlayingSession(t, panickingWriter{})
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v", p)
			}
		}()
		s.run()
	}()
	select {
	case <-s.Done():
	default:
		t.Fatalf("the session did not end; %d viewers counted", l.Active())
	}
	if l.Active() != 0 {
		t.Fatalf("%d viewers counted", l.Active())
	}
}

// stalledResponse is an HTTP/2 or HTTP/3 response (no Hijack) whose first
// Write waits until released, as one to a client that stopped reading.
type stalledResponse struct {
	header           http.Header
	writing, release chan struct{}
	once             sync.Once
}

func (w *stalledResponse) Header() http.Header { return w.header }
func (w *stalledResponse) WriteHeader(int)     {}
func (w *stalledResponse) Flush()              {}
func (w *stalledResponse) Write(p []byte) (int, error) {
	w.once.Do(func() {
		close(w.writing)
		<-w.release
	})
	return len(p), nil
}

// TestDroppedViewerIsResetNotEnded: a viewer that falls out of the window
// under slow_viewers: drop, on HTTP/2 or HTTP/3, has its stream reset
// (panic(http.ErrAbortHandler), which net/http and quic-go answer with
// RST_STREAM or a stream reset), as its connection is closed on HTTP/1.x:
// ending it with END_STREAM would tell the player that the live stream is
// over, and it would not come back.
func TestDroppedViewerIsResetNotEnded(t *testing.T) {
	hub := relay.NewHub(relay.Config{Window: buffer.Config{MaxDuration: time.Second, DropSlow: true}})
	defer hub.Close()
	ts := &testServer{t: t, hub: hub}
	ts.publish("live", "a")
	ts.gop(3)
	live := &Live{Hub: hub}
	live.SetLimits(Limits{WriteTimeout: time.Minute})
	w := &stalledResponse{header: http.Header{}, writing: make(chan struct{}), release: make(chan struct{})}
	r := httptest.NewRequest(http.MethodGet, "/live/a.flv", nil)
	r.ProtoMajor, r.ProtoMinor = 2, 0
	served := make(chan any, 1)
	go func() {
		defer func() { served <- recover() }()
		NewHandler(live).ServeHTTP(w, r)
	}()
	<-w.writing
	for range 5 { // the window moves on past the viewer
		ts.ts += 2000
		ts.gop(2)
	}
	close(w.release)
	select {
	case p := <-served:
		if p != http.ErrAbortHandler {
			t.Fatalf("the dropped viewer's handler ended with %v, want panic(http.ErrAbortHandler): a reset", p)
		}
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("the slow viewer was not dropped")
	}
	if live.Active() != 0 {
		t.Fatalf("%d viewers counted after the reset", live.Active())
	}
}

// countingWriter counts the buffers of the batches it takes, and tells
// when it has taken want of them.
type countingWriter struct {
	discard
	mu   sync.Mutex
	n    int
	want int
	got  chan struct{}
}

func (w *countingWriter) WriteBatch(bufs [][]byte) (int64, error) {
	w.mu.Lock()
	if w.n += len(bufs); w.n == w.want {
		close(w.got)
	}
	w.mu.Unlock()
	return w.discard.WriteBatch(bufs)
}

// TestSessionSendsABacklogOfSeveralBatchesAtOnce starts a viewer with more
// due than one batch of its cursor (a long group of pictures): it sends it
// all without waiting for the publisher's next tag, which a write loop
// that waits after every write would do.
func TestSessionSendsABacklogOfSeveralBatchesAtOnce(t *testing.T) {
	hub := relay.NewHub(relay.Config{})
	t.Cleanup(hub.Close)
	ts := &testServer{t: t, hub: hub}
	ts.publish("live", "a")
	const frames = 600 // a video and an audio tag each: over two batches
	ts.gop(frames)
	stream := hub.Lookup("live", "a")
	l := &Live{Hub: hub}
	l.viewers.add(0)
	// The FLV header, onMetaData, two sequence headers and the tags.
	out := &countingWriter{want: 4 + 2*frames, got: make(chan struct{})}
	s := &Session{live: l, viewer: stream.Join(buffer.AllTracks), out: out, pace: newPacer(&l.viewers.n, &l.load, Limits{}),
		ex: &exchange{}, leaveConn: func() {}, done: make(chan struct{})}
	go s.run()
	defer func() {
		s.Close()
		<-s.Done()
	}()
	select {
	case <-out.got:
	case <-time.After(time.Minute): // generous: an event, not a timing
		out.mu.Lock()
		defer out.mu.Unlock()
		t.Fatalf("%d of %d buffers sent, and no more while the publisher is quiet", out.n, out.want)
	}
}
