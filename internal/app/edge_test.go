package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
)

// fastUpstream shortens the edge's timeouts so that the tests run quickly.
func fastUpstream(c *config.Config, origins ...string) {
	c.Upstream.Origins = origins
	c.Upstream.ConnectTimeout = 500 * time.Millisecond
	c.Upstream.StallTimeout = time.Second
	c.Upstream.ViewerWait = 3 * time.Second
	c.Upstream.IdleTimeout = time.Second
	c.Upstream.RetryFor = 3 * time.Second
}

func (s *testServer) baseURL() string { return "http://" + s.web.HTTPAddr().String() }

// startDemo publishes the built-in demo stream into a server's hub until the
// test ends: a live stream without ffmpeg. It returns when the stream plays.
func startDemo(t *testing.T, s *testServer) {
	t.Helper()
	publishDemo(t, s)
	waitStream(t, s.playURL("demo"))
}

// publishDemo is startDemo for a stream that may need a token: it returns
// when the hub has the stream.
func publishDemo(t *testing.T, s *testServer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runDemo(ctx, s.hub, s.logger)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	deadline := time.Now().Add(time.Minute)
	for s.hub.Lookup("live", "demo") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the demo stream did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recording saves a viewer's whole response.
type recording struct {
	mu   sync.Mutex
	data bytes.Buffer
	done chan struct{}
	body io.ReadCloser
}

func record(t *testing.T, url string) *recording {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	rec := &recording{done: make(chan struct{}), body: resp.Body}
	go func() {
		defer close(rec.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			rec.mu.Lock()
			rec.data.Write(buf[:n])
			rec.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(rec.stop)
	return rec
}

func (r *recording) stop() {
	r.body.Close()
	<-r.done
}

func (r *recording) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.data.Len()
}

func (r *recording) waitBytes(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for r.size() < n {
		if time.Now().After(deadline) {
			t.Fatalf("recorded %d bytes, waited for %d", r.size(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkTimeline fails if a track's timestamps go back or jump by maxGap or more.
func checkTimeline(t *testing.T, tags []flv.Tag, maxGap uint32) {
	t.Helper()
	last := map[uint8]uint32{}
	for i, tag := range tags {
		if tag.Type == flv.TagScript {
			continue
		}
		prev, ok := last[tag.Type]
		if ok && tag.Timestamp < prev {
			t.Fatalf("tag %d (type %d) went back from %d to %d ms", i, tag.Type, prev, tag.Timestamp)
		}
		if ok && tag.Timestamp-prev >= maxGap {
			t.Fatalf("tag %d (type %d) jumped from %d to %d ms", i, tag.Type, prev, tag.Timestamp)
		}
		last[tag.Type] = tag.Timestamp
	}
}

func TestEdgeChainAndLoop(t *testing.T) {
	ingest := startServer(t, Ingest, nil)
	startDemo(t, ingest)
	shield := startServer(t, Edge, func(c *config.Config) { fastUpstream(c, ingest.baseURL()) })
	edge := startServer(t, Edge, func(c *config.Config) { fastUpstream(c, shield.baseURL()) })
	v := watch(t, edge.playURL("demo"))
	v.waitTags(t, 20)

	// a → b → a: each edge lists the other as its origin.
	portA, portB := freePort(t), freePort(t)
	a := startServer(t, Edge, func(c *config.Config) {
		c.HTTPListen = portA
		fastUpstream(c, "http://"+portB)
	})
	startServer(t, Edge, func(c *config.Config) {
		c.HTTPListen = portB
		fastUpstream(c, "http://"+portA)
	})
	resp, err := http.Get(a.playURL("demo"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLoopDetected || !strings.Contains(string(body), "loop") {
		t.Fatalf("a → b → a: %d %q, want 508 naming the loop", resp.StatusCode, body)
	}
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// countingOrigin wraps an ingest's handler and counts the stream requests it
// gets (not the edge's health probes).
type countingOrigin struct {
	requests, active atomic.Int64
	srv              *httptest.Server
}

func newCountingOrigin(t *testing.T, ingest *testServer) *countingOrigin {
	o := &countingOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".flv") {
			ingest.web.Handler().ServeHTTP(w, r) // a health probe
			return
		}
		o.requests.Add(1)
		o.active.Add(1)
		defer o.active.Add(-1)
		ingest.web.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func TestEdgePullsOnceForManyViewers(t *testing.T) {
	ingest := startServer(t, Ingest, nil)
	startDemo(t, ingest)
	origin := newCountingOrigin(t, ingest)
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, origin.srv.URL)
		// One request is right only while the pull never fails: no timeout
		// here that a loaded machine, serving 200 viewers under -race,
		// could reach. The idle timeout stays short: the pull's end is
		// checked below.
		c.Upstream.ConnectTimeout, c.Upstream.StallTimeout, c.Upstream.ViewerWait = time.Minute, time.Minute, time.Minute
	})

	const viewers = 200
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: viewers}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	start := make(chan struct{})
	bodies := make([]io.ReadCloser, viewers)
	errs := make(chan error, viewers)
	for i := range viewers {
		wg.Go(func() {
			<-start
			resp, err := client.Get(edge.playURL("demo"))
			if err != nil {
				errs <- err
				return
			}
			bodies[i] = resp.Body
			if resp.StatusCode != http.StatusOK {
				errs <- io.ErrUnexpectedEOF
				return
			}
			// Each viewer gets the stream: its header and first tags.
			if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a viewer failed: %v", err)
	}
	if n := origin.requests.Load(); n != 1 {
		t.Fatalf("the origin got %d requests for %d viewers, want 1", n, viewers)
	}

	for _, b := range bodies {
		b.Close()
	}
	deadline := time.Now().Add(time.Minute) // idle time 1 s, plus the checks' period, on a loaded machine
	for origin.active.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upstream request is still open long after the last viewer left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEdgeWithAllOriginsDown(t *testing.T) {
	ingest := startServer(t, Ingest, nil)
	startDemo(t, ingest)
	// One origin refuses connections; the other accepts and never answers.
	refused := freePort(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c)
		c.Upstream.AppOrigins = map[string][]string{
			"live": {ingest.baseURL()},
			// The password of an origin's URL is no metric label.
			"dead": {"http://edge:pw@" + refused, "http://" + silent.Addr().String()},
		}
	})
	playing := watch(t, edge.playURL("demo"))
	playing.waitTags(t, 10)

	start := time.Now()
	resp, err := http.Get(edge.baseURL() + "/dead/x.flv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("all origins down: %s, want 502 or 504", resp.Status)
	}
	if waited := time.Since(start); waited > 3*time.Second+time.Second {
		t.Fatalf("answered after %v; viewer_wait is 3 s", waited)
	}
	n := playing.count()
	playing.waitTags(t, n+10) // the other stream goes on

	// The dead origins are down, the live one is up (it has not failed).
	families := scrape(t, edge)
	for origin, want := range map[string]float64{"http://edge:xxxxx@" + refused: 0, "http://" + silent.Addr().String(): 0, ingest.baseURL(): 1} {
		if got, ok := value(families, "flvedge_upstream_origin_up", map[string]string{"origin": origin}); !ok || got != want {
			t.Errorf("flvedge_upstream_origin_up{origin=%q} = %v (found %v), want %v", origin, got, ok, want)
		}
	}
}

func TestIngestStaticPullRecovers(t *testing.T) {
	source := startServer(t, Ingest, nil)
	startDemo(t, source)
	sourceAddr := source.web.HTTPAddr().String()
	mirror := startServer(t, Ingest, func(c *config.Config) {
		fastUpstream(c)
		c.Pulls = []config.StaticPull{{Stream: "live/mirror", URL: source.playURL("demo")}}
	})
	waitStream(t, mirror.playURL("mirror"))
	v := watch(t, mirror.playURL("mirror"))
	v.waitTags(t, 20)

	source.close() // the source restarts on the same address
	restarted := startServer(t, Ingest, func(c *config.Config) { c.HTTPListen = sourceAddr })
	startDemo(t, restarted)
	n := v.count()
	v.waitTags(t, n+50)
	v.mu.Lock()
	tags := append([]flv.Tag(nil), v.tags...)
	v.mu.Unlock()
	checkTimeline(t, tags, 10_000)
}
