package app

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
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

// countedListener serves an origin and counts its open connections; cut
// kills it: the listener and every connection close at once.
type countedListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*countedConn]bool
}

type countedConn struct {
	net.Conn
	l    *countedListener
	once sync.Once
}

// serveCounted serves s's HTTP handler on a counted listener of its own.
func serveCounted(t *testing.T, s *testServer) *countedListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &countedListener{Listener: ln, conns: map[*countedConn]bool{}}
	srv := &http.Server{Handler: s.web.Handler()}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		l.cut()
	})
	return l
}

func (l *countedListener) url() string { return "http://" + l.Addr().String() }

func (l *countedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[cc] = true
	l.mu.Unlock()
	return cc, nil
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

func (l *countedListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *countedListener) cut() {
	l.Listener.Close()
	l.mu.Lock()
	conns := make([]*countedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// waitOpen waits until l has n connections open.
func waitOpen(t *testing.T, l *countedListener, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for l.open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d connections open, want %d", what, l.open(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isKeyframe reports whether tag is a video keyframe with a picture (not a
// sequence header).
func isKeyframe(tag flv.Tag) bool {
	return tag.Type == flv.TagVideo && len(tag.Data) > 1 && tag.Data[0]>>4 == 1 && tag.Data[1] == 1
}

// TestEdgeFailsOverToTheBackupIngest: two ingests carry the same picture
// from two encoders started apart (clocks apart), each with a keyframe every
// 5 s; the edge's primary dies under a viewer (see failOver).
func TestEdgeFailsOverToTheBackupIngest(t *testing.T) {
	primary := startServer(t, Ingest, nil)
	backup := startServer(t, Ingest, nil)
	publishFFmpegGOP(t, 150, primary.rtmpURL("cam"))
	waitStream(t, primary.playURL("cam"))
	publishFFmpegGOP(t, 150, backup.rtmpURL("cam"))
	waitStream(t, backup.playURL("cam"))
	failOver(t, primary, backup)
}

// TestEdgeFailsOverBetweenIngestsOfOneEncoder: one encoder publishes to both
// ingests (the same clock, the same frames); the edge's primary dies under a
// viewer (see failOver).
func TestEdgeFailsOverBetweenIngestsOfOneEncoder(t *testing.T) {
	primary := startServer(t, Ingest, nil)
	backup := startServer(t, Ingest, nil)
	publishFFmpegGOP(t, 150, primary.rtmpURL("cam"), backup.rtmpURL("cam"))
	waitStream(t, primary.playURL("cam"))
	waitStream(t, backup.playURL("cam"))
	failOver(t, primary, backup)
}

// failOver plays live/cam through an edge with the primary and backup
// ingests as origins, and cuts the primary when the backup's latest
// keyframe is 2.5 s old. The viewer's timeline steps by the real
// wall-clock gap (the backup's window, 2.5 s of tags sent at once, does not
// push it ahead), one upstream connection serves the stream at a time, and
// ffmpeg decodes everything across the switch.
func failOver(t *testing.T, primary, backup *testServer) {
	t.Helper()
	primaryLn, backupLn := serveCounted(t, primary), serveCounted(t, backup)
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, primaryLn.url(), backupLn.url())
		// The primary dies by a cut, seen at once; a busy machine must not
		// pass for a stalled primary before that.
		c.Upstream.StallTimeout = 10 * time.Second
	})

	v := watch(t, edge.playURL("cam"))
	v.waitTags(t, 100)
	waitOpen(t, primaryLn, 1, "the primary")
	if n := backupLn.open(); n != 0 {
		t.Fatalf("the backup has %d connections from the edge while the primary serves", n)
	}
	// Kill the primary when the backup's latest keyframe is 2.5 s old: the
	// backup's window, sent at once on the switch, then holds 2.5 s.
	direct := watch(t, backup.playURL("cam"))
	deadline := time.Now().Add(time.Minute) // generous: conditions, not timings
	for {
		direct.mu.Lock()
		key, last := int64(-1), int64(0)
		for _, tag := range direct.tags {
			if isKeyframe(tag) {
				key = int64(tag.Timestamp)
			}
			last = int64(tag.Timestamp)
		}
		direct.mu.Unlock()
		if key >= 0 && last-key >= 2500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup's stream never had a keyframe 2.5 s old")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := v.count()
	primaryLn.cut() // the primary dies mid-stream
	cut := time.Now()
	v.waitTags(t, before+1)

	// Measure for 2 s from a second after the backup's first tag.
	v.mu.Lock()
	first := v.at[before]
	v.mu.Unlock()
	for {
		v.mu.Lock()
		end := v.at[len(v.at)-1]
		v.mu.Unlock()
		direct.mu.Lock()
		directEnd := direct.at[len(direct.at)-1]
		direct.mu.Unlock()
		if end.Sub(first) > 3*time.Second && directEnd.Sub(first) > 3*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the viewer got nothing for long after the switch:\n%s", edge.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	v.mu.Lock()
	tags, at := slices.Clone(v.tags), slices.Clone(v.at)
	v.mu.Unlock()
	direct.mu.Lock()
	directTags, directAt := slices.Clone(direct.tags), slices.Clone(direct.at)
	direct.mu.Unlock()

	// A tag's lag is when it came minus its timestamp. Delays of the
	// machine only add to it, so the least lag of a stretch is the
	// timeline's offset from the wall clock there; the timestamp step at
	// the switch minus the wall-clock gap is how much that offset moved.
	// An encoder that a loaded machine slows below real time moves it too,
	// by its own drift: the backup's own viewer measures that over the same
	// stretches, and only what the edge adds to it counts.
	leastLag := func(tags []flv.Tag, at []time.Time, from, to time.Time) time.Duration {
		least := time.Duration(math.MaxInt64)
		for i, tag := range tags {
			if tag.Type != flv.TagScript && !at[i].Before(from) && at[i].Before(to) {
				least = min(least, at[i].Sub(cut)-time.Duration(tag.Timestamp)*time.Millisecond)
			}
		}
		return least
	}
	moved := func(tags []flv.Tag, at []time.Time) time.Duration {
		return leastLag(tags, at, cut.Add(-2*time.Second), cut) - leastLag(tags, at, first.Add(time.Second), first.Add(3*time.Second))
	}
	gap := first.Sub(at[before-1])
	drift := moved(directTags, directAt)
	if off := moved(tags, at) - drift; off.Abs() > 500*time.Millisecond {
		t.Fatalf("at the switch the timestamps stepped %v for a wall-clock gap of %v and an encoder drift of %v: %v off, want within 500 ms",
			gap+off+drift, gap, drift, off)
	}
	t.Logf("switch: wall-clock gap %v, encoder drift %v, timestamps stepped %v", gap, drift, gap+moved(tags, at))

	waitOpen(t, backupLn, 1, "the backup")
	if n := primaryLn.open(); n != 0 {
		t.Fatalf("the dead primary still has %d connections", n)
	}
	v.mu.Lock()
	tags = slices.Clone(v.tags)
	v.mu.Unlock()
	checkTimeline(t, tags, 3000)
	// The viewer stopped reading in the middle of a tag: decode every whole
	// tag it received.
	var whole bytes.Buffer
	w := flv.NewWriter(&whole)
	w.WriteHeader(true, true)
	for _, tag := range tags {
		w.WriteTag(tag)
	}
	path := filepath.Join(t.TempDir(), "viewer.flv")
	if err := os.WriteFile(path, whole.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// framecrc decodes every frame; at level error, ffmpeg prints any decoder error.
	cmd := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-v", "error", "-i", path, "-f", "framecrc", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg decoding the viewer's response across the failover: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(edge.log.String(), "failing over") {
		t.Fatalf("no failover in the edge's log:\n%s", edge.log.String())
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
