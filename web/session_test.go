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
