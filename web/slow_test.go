package web

import (
	"bufio"
	"cmp"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/relay"
)

// TestStuckViewerDisturbsNobody has one viewer that never reads among 99
// that do. The publisher must never wait for it, the others must receive
// exactly the same tags as without it, the window must stay within its
// bound, and the stuck viewer must be dropped by its write timeout.
//
// The readers join under a write timeout no loaded machine reaches, the
// stuck viewer under a short one (limits apply to the viewers that come
// after them): a reader that a busy CPU keeps from reading for seconds is
// not what this test is about, and must not be dropped.
func TestStuckViewerDisturbsNobody(t *testing.T) {
	const windowBytes = 32 << 20
	hub := relay.NewHub(relay.Config{Window: buffer.Config{MaxBytes: windowBytes, MaxDuration: time.Hour}})
	live := &Live{Hub: hub}
	live.SetLimits(Limits{WriteTimeout: time.Hour})
	srv := httptest.NewServer(NewHandler(live))
	defer srv.Close()
	defer hub.Close()
	pub, err := hub.Publish("live", "a", func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Data: avcConfig})
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Data: frame(true, 0)})

	const readers, frames = 99, 600
	const total = 2 + frames // configuration and first keyframe, then the frames
	sums := make([]uint64, readers)
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	for i := range readers {
		resp, err := http.Get(srv.URL + "/live/a.flv")
		if err != nil {
			t.Fatal(err)
		}
		ready.Add(1)
		wg.Go(func() {
			// Ready once: after the first tag, or at a failure before it.
			ready := sync.OnceFunc(ready.Done)
			defer ready()
			defer resp.Body.Close()
			r := flv.NewReader(bufio.NewReader(resp.Body))
			r.ReadHeader()
			h := fnv.New64a()
			for n := range total {
				tag, err := r.ReadTag()
				if err != nil {
					t.Errorf("viewer %d, tag %d: %v", i, n, err)
					return
				}
				ready()
				// The frames differ in their timestamp, number and size.
				fmt.Fprint(h, tag.Timestamp, tag.Data[:min(12, len(tag.Data))], len(tag.Data))
			}
			sums[i] = h.Sum64()
		})
	}
	ready.Wait()

	// The stuck viewer asks for the stream and never reads.
	// Its receive buffer is made small before connecting, so that the
	// window it announces stays small: the server's writes must block.
	live.SetLimits(Limits{WriteTimeout: 3 * time.Second})
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return cmp.Or(err, serr)
	}}
	stuck, err := dialer.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fmt.Fprintf(stuck, "GET /live/a.flv HTTP/1.1\r\nHost: x\r\n\r\n")
	waitViewers(t, hub.Lookup("live", "a"), readers+1)

	// 600 frames of 16 KiB: 9.6 MiB, more than the stuck viewer's socket
	// buffers hold (4 MiB at most on the sending side here).
	body := make([]byte, 16<<10)
	for i := 1; i <= frames; i++ {
		data := append(frame(i%100 == 0, byte(i)), body...)
		if err := pub.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: uint32(i * 40), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := range sums {
		if sums[i] != sums[0] {
			t.Fatalf("viewer %d received other tags than viewer 0", i)
		}
	}
	if b := hub.Lookup("live", "a").Viewers(); b > readers+1 {
		t.Fatalf("%d viewers", b)
	}

	// The window is bounded whatever the stuck viewer does, and the stuck
	// viewer itself is dropped once a write has waited for the timeout.
	if n := hub.Lookup("live", "a").WindowBytes(); n > windowBytes {
		t.Fatalf("window holds %d bytes, bound %d", n, windowBytes)
	}
	// A viewer that hung up is noticed at the next write: send some.
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: frames*40 + 40, Data: frame(false, 0)})
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: frames*40 + 80, Data: frame(false, 0)})
	// Every viewer has left: the readers that hung up, and the stuck one,
	// dropped by its write timeout.
	waitViewers(t, hub.Lookup("live", "a"), 0)
}

// waitViewers waits until a stream has n viewers.
func waitViewers(t *testing.T, s *relay.Stream, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for s.Viewers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("stream has %d viewers, waited for %d", s.Viewers(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestViewerCapAnswers503AndSparesThePlaying(t *testing.T) {
	s := newTestServer(t, 0)
	capped := &Live{Hub: s.hub}
	capped.SetLimits(Limits{MaxViewers: 2})
	s.srv.Config.Handler = NewHandler(capped)
	s.publish("live", "a")
	s.gop(2)
	first := s.get(t, "/live/a.flv")
	second := s.get(t, "/live/a.flv")
	readTags(t, first.Body, 3)
	readTags(t, second.Body, 3)

	resp := s.get(t, "/live/a.flv")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third viewer: %s, want 503", resp.Status)
	}
	s.gop(2)
	for _, r := range []*http.Response{first, second} {
		fr := flv.NewReader(r.Body)
		for range 4 {
			if _, err := fr.ReadTag(); err != nil {
				t.Fatalf("a playing viewer was disturbed: %v", err)
			}
		}
	}
}

// TestHangUpNoticedWithoutData has a viewer leave while its stream has
// nothing to send (the publisher is in its grace period): the server must
// notice at once, not at the next write.
func TestHangUpNoticedWithoutData(t *testing.T) {
	s := newTestServer(t, time.Hour)
	s.publish("live", "a")
	s.gop(2)
	resp := s.get(t, "/live/a.flv")
	readTags(t, resp.Body, 3)
	s.pub.Close() // no more tags for an hour
	resp.Body.Close()
	waitViewers(t, s.hub.Lookup("live", "a"), 0)
}
