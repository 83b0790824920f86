package relay

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// The edge's upstream path, measured through a real Puller: an origin's
// response body, read tag by tag and published into the hub. The origin
// is a RoundTripper that loops over one GOP of a 2 Mbit/s stream from
// memory, so that nothing but the puller allocates while it runs.

// upstreamGOP is two seconds of a 2 Mbit/s stream: a 64 KiB keyframe, 59
// inter frames of 8 KiB, and an AAC frame after each video frame.
func upstreamGOP() (gop []byte, starts []int) {
	for i := range 60 {
		ts := uint32(i * 33)
		frame := append(interFrame(), make([]byte, 8<<10)...)
		if i == 0 {
			frame = append(keyframe(), make([]byte, 64<<10)...)
		}
		starts = append(starts, len(gop))
		gop = flv.AppendTag(gop, flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: frame})
		starts = append(starts, len(gop))
		gop = flv.AppendTag(gop, flv.Tag{Type: flv.TagAudio, Timestamp: ts + 10, Data: append(aacFrame(), make([]byte, 380)...)})
	}
	return gop, starts
}

const upstreamGOPDuration = 60 * 33 // ms

// loopOrigin is an origin's response body: the FLV header and the
// configuration, then the GOP again and again on a clock that goes on.
// Each Read ends at a tag boundary, and at the start of tag n (counted
// from the first GOP tag) it calls atTag(n), when tags before n have been
// read and published.
type loopOrigin struct {
	head   []byte
	gop    []byte
	starts []int
	atTag  func(n int)     // may be nil
	ctx    context.Context // the request's: a transport's body ends with it
	closed chan struct{}
	once   sync.Once

	cur   []byte // what is served now: head, then gop
	off   int
	next  int // index in starts of the next tag boundary in gop
	loops uint32
	tags  int
	inGOP bool
}

func newLoopOrigin(atTag func(int)) *loopOrigin {
	gop, starts := upstreamGOP()
	head := flv.AppendHeader(nil, true, true)
	head = flv.AppendTag(head, flv.Tag{Type: flv.TagVideo, Data: avcConfig})
	head = flv.AppendTag(head, flv.Tag{Type: flv.TagAudio, Data: aacConfig})
	return &loopOrigin{head: head, gop: gop, starts: starts, atTag: atTag, closed: make(chan struct{}), cur: head}
}

func (o *loopOrigin) Read(p []byte) (int, error) {
	select {
	case <-o.closed:
		return 0, errors.New("body closed")
	case <-o.ctx.Done():
		return 0, o.ctx.Err()
	default:
	}
	if o.off == len(o.cur) {
		// Start the GOP (again), its timestamps one GOP later each time.
		if o.inGOP {
			o.loops++
			for _, s := range o.starts {
				h := o.gop[s : s+flv.TagHeaderSize]
				ts := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
				flv.PutTimestamp(h, ts+upstreamGOPDuration)
			}
		}
		o.cur, o.off, o.next, o.inGOP = o.gop, 0, 0, true
	}
	end := len(o.cur)
	if o.inGOP {
		if o.next < len(o.starts) && o.off == o.starts[o.next] {
			if o.atTag != nil {
				o.atTag(o.tags)
			}
			o.tags++
			o.next++
		}
		if o.next < len(o.starts) {
			end = o.starts[o.next]
		}
	}
	n := copy(p, o.cur[o.off:end])
	o.off += n
	return n, nil
}

func (o *loopOrigin) Close() error {
	o.once.Do(func() { close(o.closed) })
	return nil
}

// loopTransport answers the first request with body and every later one
// (a reconnection after the test is done) with a 404.
type loopTransport struct {
	mu   sync.Mutex
	body *loopOrigin
}

func (t *loopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	body := t.body
	t.body = nil
	t.mu.Unlock()
	if body == nil {
		return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Request: req}, nil
	}
	body.ctx = req.Context()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: body, Request: req}, nil
}

// pullLoop starts a static pull of a loopOrigin into a new hub.
func pullLoop(tb testing.TB, atTag func(int)) func() {
	tb.Helper()
	h := NewHub(Config{})
	p, err := NewPuller(h, PullConfig{
		Origins:      func(string) []string { return nil },
		Client:       &http.Client{Transport: &loopTransport{body: newLoopOrigin(atTag)}},
		StallTimeout: time.Minute, ViewerWait: time.Minute,
		IdleTimeout: time.Minute, RetryFor: time.Minute,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.Keep("live", "upstream", "http://origin.invalid/live/upstream.flv"); err != nil {
		tb.Fatal(err)
	}
	return func() {
		p.Close()
		h.Close()
	}
}

// TestUpstreamAllocatesNothingPerTag counts the heap allocations of a
// pull in steady state. Reading each tag into a fresh buffer, as
// flv.Reader.ReadTag does, costs one per tag; what remains are the arena's
// chunks and the keyframes' own buffers, the window's bytes, one per
// dozens of tags.
func TestUpstreamAllocatesNothingPerTag(t *testing.T) {
	const warm, tags = 1200, 2400
	var before, after runtime.MemStats
	done := make(chan struct{})
	stop := pullLoop(t, func(n int) {
		switch n {
		case warm:
			runtime.ReadMemStats(&before)
		case warm + tags:
			runtime.ReadMemStats(&after)
			close(done)
		}
	})
	defer stop()
	select {
	case <-done:
	case <-time.After(time.Minute): // generous: a condition, not a timing
		t.Fatal("the pull did not get through its tags")
	}
	perTag := float64(after.Mallocs-before.Mallocs) / tags
	t.Logf("%.3f allocations per tag", perTag)
	if perTag > 0.25 {
		t.Fatalf("%.3f heap allocations per tag on the upstream path, want almost none", perTag)
	}
}

// BenchmarkUpstream measures the upstream path per tag: read from the
// origin's body, parse, timestamp, encode once into the window.
func BenchmarkUpstream(b *testing.B) {
	gop, starts := upstreamGOP()
	const warm = 240
	start, end := make(chan struct{}), make(chan struct{})
	var ended bool
	stop := pullLoop(b, func(n int) {
		switch {
		case n == warm:
			start <- struct{}{}
			<-start
		case n == warm+b.N && !ended:
			ended = true
			close(end)
		}
	})
	defer stop()
	<-start
	b.SetBytes(int64(len(gop) / len(starts)))
	b.ReportAllocs()
	b.ResetTimer()
	start <- struct{}{}
	<-end
	b.StopTimer()
}
