package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
)

// scriptedOrigin answers stream requests with what its script says for the
// n-th request.
func scriptedOrigin(t *testing.T, script func(n int, w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		script(int(requests.Add(1)), w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sendTags writes an FLV stream: header, configuration, then video frames
// with the given timestamps (the first a keyframe), each with its number in
// the last byte so that the viewer can tell them apart.
func sendTags(w http.ResponseWriter, timestamps ...uint32) {
	w.Header().Set("Content-Type", "video/x-flv")
	b := flv.AppendHeader(nil, false, true)
	b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Data: avcConfig})
	for i, ts := range timestamps {
		frame := interFrame()
		if i == 0 {
			frame = keyframe()
		}
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: append(frame, byte(ts/40))})
	}
	w.Write(b)
}

func newTestPuller(t *testing.T, origins ...string) (*Hub, *Puller) {
	t.Helper()
	h := NewHub(Config{})
	p := newPuller(t, h, PullConfig{
		Origins:      func(string) []string { return origins },
		StallTimeout: 200 * time.Millisecond, ViewerWait: 2 * time.Second,
		IdleTimeout: time.Second, RetryFor: time.Second,
	})
	t.Cleanup(func() {
		p.Close()
		h.Close()
	})
	return h, p
}

func TestReconnectToTheSameOriginSendsNoTagTwice(t *testing.T) {
	origin := scriptedOrigin(t, func(n int, w http.ResponseWriter) {
		switch n {
		case 1:
			sendTags(w, 0, 40, 80, 120) // then the connection breaks
		default:
			// The origin's window: the same GOP again, and what came since.
			sendTags(w, 0, 40, 80, 120, 160, 200)
			time.Sleep(time.Second)
		}
	})
	_, p := newTestPuller(t, origin.URL)
	s, err := p.Stream(context.Background(), "live", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Join(buffer.AllTracks)
	defer v.Leave()
	var got []string
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for len(got) < 6 && time.Now().Before(deadline) {
		tags, _ := viewerTags(t, v.Cursor)
		for _, tag := range tags {
			if tag.Type == flv.TagVideo && tag.Data[1] == 1 {
				got = append(got, fmt.Sprintf("%d@%d", tag.Data[len(tag.Data)-1], tag.Timestamp))
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := "[0@0 1@40 2@80 3@120 4@160 5@200]"; fmt.Sprint(got) != want {
		t.Fatalf("viewer got %v, want %s: every frame once, on the same clock", got, want)
	}
}

// refusedURL is the URL of a loopback port that refuses connections.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String()
}

func TestOriginStatusesReachTheViewer(t *testing.T) {
	notFound := scriptedOrigin(t, func(_ int, w http.ResponseWriter) { http.Error(w, "no such stream", http.StatusNotFound) })
	forbidden := scriptedOrigin(t, func(_ int, w http.ResponseWriter) { http.Error(w, "token required", http.StatusForbidden) })
	broken := scriptedOrigin(t, func(_ int, w http.ResponseWriter) { http.Error(w, "oops", http.StatusInternalServerError) })
	unavailable := scriptedOrigin(t, func(_ int, w http.ResponseWriter) { http.Error(w, "draining", http.StatusServiceUnavailable) })
	refused := refusedURL(t)
	for _, tc := range []struct {
		name    string
		origins []string
		status  int
	}{
		// One origin answered: its status as it is.
		{"404", []string{notFound.URL}, http.StatusNotFound},
		{"503", []string{unavailable.URL}, http.StatusServiceUnavailable},
		{"500", []string{broken.URL}, http.StatusInternalServerError},
		{"refused, 503", []string{refused, unavailable.URL}, http.StatusServiceUnavailable},
		// Several: a refusal is final, 404 beats a server's state, an
		// answer beats none.
		{"404, 403", []string{notFound.URL, forbidden.URL}, http.StatusForbidden},
		{"500, 404", []string{broken.URL, notFound.URL}, http.StatusNotFound},
		{"503, refused, 404", []string{unavailable.URL, refused, notFound.URL}, http.StatusNotFound},
		{"500, 503", []string{broken.URL, unavailable.URL}, http.StatusInternalServerError},
		{"refused", []string{refused}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p := newTestPuller(t, tc.origins...)
			_, err := p.Stream(context.Background(), "live", "a", nil)
			var ue *UpstreamError
			if !errors.As(err, &ue) || ue.Status != tc.status {
				t.Fatalf("got %v, want status %d", err, tc.status)
			}
		})
	}
}

// TestStoredFileIsNotALiveStream: an origin answering as file servers do
// (a stored file, with Accept-Ranges) is not pulled as a live stream, which
// would end and be pulled again in a loop.
func TestStoredFileIsNotALiveStream(t *testing.T) {
	var requests atomic.Int64
	file := scriptedOrigin(t, func(_ int, w http.ResponseWriter) {
		requests.Add(1)
		b := flv.AppendHeader(nil, false, true)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Header().Set("Accept-Ranges", "bytes")
		w.Write(b)
	})
	_, p := newTestPuller(t, file.URL)
	_, err := p.Stream(context.Background(), "vod", "film", nil)
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound {
		t.Fatalf("got %v, want a 404", err)
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d requests to the origin, want 1", n)
	}
}

// asked reports whether an origin got a request for uri.
func asked(rec *recorder, uri string) bool {
	return slices.ContainsFunc(rec.requests(), func(r request) bool { return r.uri == uri })
}

// TestDeadOriginIsSkippedForNewPulls: the first origin accepts connections
// and never answers. The first pull waits for it once; the next pull of
// another stream goes to the second origin without asking the dead one;
// once a probe finds the first origin back, it is first again.
func TestDeadOriginIsSkippedForNewPulls(t *testing.T) {
	var alive atomic.Bool
	dead := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if !alive.Load() {
			<-r.Context().Done() // accepted, never answered
			return
		}
		streamTags(w, r, 0, 40, 80)
	})
	good := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { streamTags(w, r, 0, 40, 80) })
	_, p := startPuller(t, Config{}, PullConfig{
		Origins:        func(string) []string { return []string{dead.srv.URL, good.srv.URL} },
		ConnectTimeout: time.Second, ViewerWait: 10 * time.Second,
	})
	pull := func(name string) {
		t.Helper()
		if _, err := p.Stream(context.Background(), "live", name, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	pull("a")
	if !asked(dead, "/live/a.flv") || !asked(good, "/live/a.flv") {
		t.Fatalf("stream a: the dead origin got %v, the good one %v; want both asked, in order", dead.requests(), good.requests())
	}
	if !p.OriginDown(dead.srv.URL) || p.OriginDown(good.srv.URL) {
		t.Fatal("the dead origin is not down, or the good one is")
	}
	pull("b")
	if asked(dead, "/live/b.flv") {
		t.Fatal("the pull of a new stream asked the dead origin first")
	}

	alive.Store(true)
	deadline := time.Now().Add(20 * time.Second)
	for p.OriginDown(dead.srv.URL) {
		if time.Now().After(deadline) {
			t.Fatal("the probe did not find the origin back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pull("c")
	if !asked(dead, "/live/c.flv") || asked(good, "/live/c.flv") {
		t.Fatalf("after the origin came back, stream c went to %v", good.requests())
	}
}

// TestNoIdleConnectionToOrigins: an origin that answered 404 keeps no
// connection from the puller while the next origin serves the stream.
func TestNoIdleConnectionToOrigins(t *testing.T) {
	var open atomic.Int64
	notFound := httptest.NewUnstartedServer(http.HandlerFunc(http.NotFound))
	notFound.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	notFound.Start()
	t.Cleanup(notFound.Close)
	good := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { streamTags(w, r, 0, 40, 80) })
	_, p := newTestPuller(t, notFound.URL, good.srv.URL)
	if _, err := p.Stream(context.Background(), "live", "a", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the origin that answered 404 still has %d connections from the puller", open.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPullRefusesLoops(t *testing.T) {
	_, p := newTestPuller(t, "http://127.0.0.1:1")
	_, err := p.Stream(context.Background(), "live", "a", []string{"x", p.NodeID()})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusLoopDetected {
		t.Fatalf("got %v, want 508", err)
	}
	_, err = p.Stream(context.Background(), "live", "a", []string{"1", "2", "3", "4", "5", "6", "7", "8"})
	if !errors.As(err, &ue) || ue.Status != http.StatusLoopDetected {
		t.Fatalf("eight hops: got %v, want 508", err)
	}
}

func TestStalledOriginIsLeft(t *testing.T) {
	stalled := scriptedOrigin(t, func(_ int, w http.ResponseWriter) {
		sendTags(w, 0, 40)
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Second) // then nothing
	})
	healthy := scriptedOrigin(t, func(_ int, w http.ResponseWriter) {
		sendTags(w, 1000, 1040, 1080)
		time.Sleep(2 * time.Second)
	})
	h, p := newTestPuller(t, stalled.URL, healthy.URL)
	s, err := p.Stream(context.Background(), "live", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Join(buffer.AllTracks)
	defer v.Leave()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for time.Now().Before(deadline) {
		tags, _ := viewerTags(t, v.Cursor)
		for _, tag := range tags {
			if tag.Type == flv.TagVideo && tag.Data[len(tag.Data)-1] == 1080/40 {
				return // the second origin's frames arrived
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no frame from the second origin after the first stalled; hub has %v", h.Lookup("live", "a") != nil)
}

// TestCloseDelimitedOriginWithHeaders pulls from an origin that speaks plain
// HTTP/1.1 without chunking (the body ends when the connection closes) and
// wants a configured header.
func TestCloseDelimitedOriginWithHeaders(t *testing.T) {
	origin := scriptedOrigin(t, func(_ int, w http.ResponseWriter) {})
	origin.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Origin-Key") != "k1" {
			http.Error(w, "origin key required", http.StatusForbidden)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		b := []byte("HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n")
		b = flv.AppendHeader(b, false, true)
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Data: avcConfig})
		b = flv.AppendTag(b, flv.Tag{Type: flv.TagVideo, Data: keyframe()})
		conn.Write(b)
		io.Copy(io.Discard, conn) // until the puller hangs up
	})
	h := NewHub(Config{})
	p := newPuller(t, h, PullConfig{
		Origins: func(string) []string { return []string{origin.URL} },
		Header:  func() http.Header { return http.Header{"X-Origin-Key": {"k1"}} },
	})
	defer func() {
		p.Close()
		h.Close()
	}()
	s, err := p.Stream(context.Background(), "live", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Join(buffer.AllTracks)
	defer v.Leave()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for time.Now().Before(deadline) {
		if tags, _ := viewerTags(t, v.Cursor); len(tags) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("nothing pulled from the close-delimited origin")
}

// TestSlowStartIsNotIdle: a viewer waiting for a pull to start counts as a
// viewer, so that an origin slower to answer than the idle timeout does not
// get the pull stopped under the viewers waiting for it.
func TestSlowStartIsNotIdle(t *testing.T) {
	const idle = 50 * time.Millisecond
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * idle) // the answer takes many idle periods: time that passes, not a synchronisation
		sendTags(w, 0, 40)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer origin.Close()
	h := NewHub(Config{})
	defer h.Close()
	p := newPuller(t, h, PullConfig{
		Origins:        func(string) []string { return []string{origin.URL} },
		ConnectTimeout: time.Minute, StallTimeout: time.Minute, ViewerWait: time.Minute,
		IdleTimeout: idle, RetryFor: time.Minute,
	})
	defer p.Close()
	s, err := p.Stream(context.Background(), "live", "a", nil)
	if err != nil {
		t.Fatalf("a viewer waiting for a slow origin: %v", err)
	}
	v := s.Join(buffer.AllTracks)
	defer v.Leave()
}

// A pull beyond the hub's limits is not started: its viewer gets 503 and
// no origin is asked.
func TestPullRefusedAtCapacity(t *testing.T) {
	var asked atomic.Int64
	origin := scriptedOrigin(t, func(int, http.ResponseWriter) { asked.Add(1) })
	h := NewHub(Config{MaxStreams: 1})
	p := newPuller(t, h, PullConfig{Origins: func(string) []string { return []string{origin.URL} }, ViewerWait: 2 * time.Second})
	t.Cleanup(func() {
		p.Close()
		h.Close()
	})
	local, err := h.Publish("live", "local", func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	_, err = p.Stream(context.Background(), "live", "a", nil)
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusServiceUnavailable || ue.Reason != "server at capacity: 1 streams (limits.streams)" {
		t.Fatalf("pull beyond limits.streams: %v", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("origin asked %d times", n)
	}
}

// Pulls still asking their origins count against limits.streams: requests
// for many names at once cannot start a pull (and origin requests) each.
func TestPullsUnderWayCountAgainstTheStreamLimit(t *testing.T) {
	var asked atomic.Int64
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	h := NewHub(Config{MaxStreams: 2})
	p := newPuller(t, h, PullConfig{Origins: func(string) []string { return []string{hang.URL} },
		ViewerWait: time.Minute, ConnectTimeout: time.Minute})
	t.Cleanup(func() {
		p.Close()
		h.Close()
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		wg.Go(func() { p.Stream(ctx, "live", name, nil) })
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); asked.Load() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("origin asked %d times, want 2", asked.Load())
		}
	}
	third, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	_, err := p.Stream(third, "live", "c", nil)
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusServiceUnavailable {
		t.Fatalf("a third pull with two under way and limits.streams 2: %v", err)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("origin asked %d times", n)
	}
}

// newPuller is NewPuller for a config the test knows to be good.
func newPuller(t testing.TB, h *Hub, cfg PullConfig) *Puller {
	t.Helper()
	p, err := NewPuller(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
