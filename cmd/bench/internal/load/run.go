// Package load is the core of cmd/bench: it publishes a stream over RTMP,
// plays it with many HTTP-FLV viewers, and measures what they receive and
// what the server spends on them.
//
// Viewers are cheap so that thousands run beside the server on the same
// machine: one goroutine each, one reused read buffer, a hand-written
// HTTP/1.1 request on a raw connection, and a streaming parse of the
// chunked framing and the FLV tag headers that allocates nothing per tag.
//
// RunVOD reads a stored file instead, with many readers asking for ranges
// of it on keep-alive connections, for the cost of VOD delivery.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what a run does.
type Config struct {
	Publish string // rtmp:// URL to publish to; empty: no publishing
	// Streams publishes the file to this many streams at once: the URL's,
	// then the same name with -2, -3, ... (for the cost of idle streams).
	// Viewers watch the first. 0 or 1: one.
	Streams int
	File    string // FLV file to publish; empty: the default clip, made with ffmpeg
	URL     string // http:// URL the viewers play (https:// for h2, h3); empty: no viewers
	// Proto is the viewers' HTTP version: "h1" (default, a raw HTTP/1.1
	// client, the cheapest; over TLS for an https:// URL), "h2" (HTTP/2
	// over TLS, viewers multiplexed on shared connections, with a client
	// that gives flow-control window back as browsers do, h2client.go) or
	// "h3" (HTTP/3 over QUIC).
	Proto string
	// ConnPerViewer gives each HTTP/2 or HTTP/3 viewer a connection of its
	// own (viewers on different devices) instead of sharing connections
	// (many players on one page).
	ConnPerViewer bool
	// ViewersPerConn, if above 0, puts at most this many HTTP/2 or HTTP/3
	// viewers on one connection (the players of one page); 1 is
	// ConnPerViewer. 0: as many as one connection takes (HTTP/2: 100).
	ViewersPerConn int
	// Insecure skips the verification of the server's certificate (a
	// self-signed test server).
	Insecure bool
	Viewers  int // how many viewers
	// RefURL, with RefViewers more viewers, is another URL of the same
	// stream (the ingest in front of an edge): its viewers' lag is reported
	// apart, measured in the same run against the same publish times, as a
	// reference for the URL's.
	RefURL     string
	RefViewers int
	Ramp       time.Duration // viewers' starts are spread evenly over this
	Duration   time.Duration // how long to measure once every viewer has started
	PID        int           // server process to sample from /proc; 0: none
	Progress   io.Writer     // a status line a second, and notes; nil: none
}

func (c Config) check() error {
	switch {
	case c.Publish == "" && c.URL == "":
		return errors.New("nothing to do: give a URL to play, one to publish to, or both")
	case c.URL != "" && c.Viewers < 1:
		return fmt.Errorf("%d viewers: at least one is needed to play a URL", c.Viewers)
	case c.Ramp < 0 || c.Duration <= 0:
		return fmt.Errorf("ramp %s, duration %s: the ramp cannot be negative, the duration must be positive", c.Ramp, c.Duration)
	case c.File != "" && c.Publish == "":
		return errors.New("a file to publish needs a URL to publish to")
	case c.ViewersPerConn < 0:
		return fmt.Errorf("%d viewers per connection: 0 (as many as the client multiplexes) or more", c.ViewersPerConn)
	case c.RefURL != "" && (c.URL == "" || c.RefViewers < 1):
		return errors.New("a reference URL needs a URL to play and at least one reference viewer")
	}
	return nil
}

const (
	// probeTimeout bounds the wait for a first viewer to get a keyframe
	// before the others are started.
	probeTimeout = 15 * time.Second
	// settleTimeout bounds the wait, after the ramp, for every viewer to
	// have its first keyframe before measuring starts.
	settleTimeout = 10 * time.Second
	stallAfter    = time.Second
	monitorTick   = 100 * time.Millisecond
)

// runner is what a run's viewers and publisher share.
type runner struct {
	start      time.Time
	clock      *tagClock
	publishing bool // the clock holds publish times, else first-received times
	target     target
	refTarget  target      // for the viewers of Config.RefURL
	measuring  atomic.Bool // lag is counted only in the measured window
}

// now is the time since the run began in microseconds, on the monotonic clock.
func (r *runner) now() int64 { return int64(time.Since(r.start) / time.Microsecond) }

// Run runs a load test. When ctx ends early, what was measured until then is
// reported, marked as interrupted. A failure of the publisher ends the run
// with an error, and with the report so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	notes := cfg.Progress
	if notes == nil {
		notes = io.Discard
	}
	r := &runner{start: time.Now(), clock: new(tagClock), publishing: cfg.Publish != ""}
	perConn := cfg.ViewersPerConn
	if cfg.ConnPerViewer {
		perConn = 1
	}
	if cfg.URL != "" {
		var err error
		if r.target, err = parseTarget(cfg.URL, cfg.Proto, cfg.Insecure, perConn); err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
		defer r.target.close()
	}
	if cfg.RefURL != "" {
		var err error
		if r.refTarget, err = parseTarget(cfg.RefURL, cfg.Proto, cfg.Insecure, perConn); err != nil {
			return nil, fmt.Errorf("reference url: %w", err)
		}
		defer r.refTarget.close()
	}
	var server *serverProbe
	if cfg.PID != 0 {
		var err error
		if server, err = newServerProbe(cfg.PID); err != nil {
			return nil, err
		}
	}

	rep := &Report{URL: cfg.URL, Publish: cfg.Publish, Viewers: cfg.Viewers, RampSeconds: cfg.Ramp.Seconds(),
		RefURL: cfg.RefURL, RefViewers: cfg.RefViewers}
	var pub *publisher
	var pubDone <-chan struct{} // stays nil without a publisher
	// The publisher outlives an interrupt: viewers are measured to the end.
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPub()
	if r.publishing {
		file := cfg.File
		if file == "" {
			var err error
			if file, err = generatedClip(ctx, notes); err != nil {
				return nil, err
			}
		}
		var err error
		if pub, err = startPublisher(pubCtx, cfg.Publish, file, r); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		rep.File, pubDone = file, pub.done
		// The other streams keep their publish times apart, so that the
		// viewers' lag is counted against the first stream's only.
		others := &runner{start: r.start, clock: new(tagClock), publishing: true}
		for i := 2; i <= cfg.Streams; i++ {
			extra, err := startPublisher(pubCtx, numbered(cfg.Publish, i), file, others)
			if err != nil {
				return nil, fmt.Errorf("publish stream %d: %w", i, err)
			}
			defer extra.stop()
		}
		rep.Streams = max(cfg.Streams, 1)
	}

	var err error
	if cfg.URL == "" {
		err = publishOnly(ctx, cfg, rep, pubDone)
	} else {
		err = runViewers(ctx, cfg, r, server, rep, pubDone)
	}
	if pub != nil {
		stopPub()
		perr := pub.stop()
		rep.Publisher = &PublisherStats{
			Tags:          pub.tags.Load(),
			Mbps:          mbps(pub.bytes.Load(), time.Since(pub.started)),
			MaxLateMillis: float64(pub.maxLate.Load()) / 1e3,
		}
		if perr != nil && err == nil {
			err = fmt.Errorf("publish: %w", perr)
		}
	}
	return rep, err
}

// numbered is the publish URL of the i-th stream: its stream name with -i.
func numbered(rawURL string, i int) string {
	base, query, _ := strings.Cut(rawURL, "?")
	base = base + "-" + strconv.Itoa(i)
	if query != "" {
		base += "?" + query
	}
	return base
}

// publishOnly publishes for the ramp and the duration, for viewers the
// tool does not run.
func publishOnly(ctx context.Context, cfg Config, rep *Report, pubDone <-chan struct{}) error {
	start := time.Now()
	timer := time.NewTimer(cfg.Ramp + cfg.Duration)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		rep.Interrupted = true
	case <-pubDone:
	}
	rep.MeasuredSeconds = time.Since(start).Seconds()
	return nil
}

// runViewers probes the URL, starts the viewers over the ramp, measures
// for the duration and fills rep. pubDone, when not nil, closes if the
// publisher stops, which ends the run.
func runViewers(ctx context.Context, cfg Config, r *runner, server *serverProbe, rep *Report, pubDone <-chan struct{}) error {
	stopped := func() bool {
		select {
		case <-ctx.Done():
			rep.Interrupted = true
			return true
		case <-pubDone:
			return true
		default:
			return false
		}
	}
	if err := r.probe(ctx, pubDone, cfg.URL); err != nil {
		return err
	}
	if server != nil {
		if err := server.idle(); err != nil {
			return err
		}
	}

	viewers := make([]viewer, cfg.Viewers+cfg.RefViewers)
	for i := cfg.Viewers; i < len(viewers); i++ {
		viewers[i].ref = true
	}
	var launched atomic.Int64
	mon := startMonitor(r, viewers, &launched, server, cfg.Progress)
	vctx, stopViewers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	all := viewers // viewers is cut to the launched below, while they run
	viewers = viewers[:rampUp(ctx, len(viewers), cfg.Ramp, pubDone, &wg, &launched, func(i int) {
		all[i].run(vctx, r)
	})]
	rep.Launched = len(viewers)

	settle(viewers, stopped)
	viewerBytes := func(i int) int64 { return viewers[i].bytes.Load() }
	start := takeSnapshot(len(viewers), viewerBytes, server)
	r.measuring.Store(true)
	if !stopped() {
		timer := time.NewTimer(cfg.Duration)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			rep.Interrupted = true
		case <-pubDone:
		}
	}
	end := takeSnapshot(len(viewers), viewerBytes, server)
	r.measuring.Store(false)
	stopViewers()
	wg.Wait()
	mon.stop()
	rep.fill(r, viewers, start, end, mon, server)
	return nil
}

// rampUp runs run(i) in a goroutine of wg for i from 0 to n-1, the starts
// spread evenly over ramp and counted in launched, and returns how many it
// started: fewer when ctx ends or halt closes first.
func rampUp(ctx context.Context, n int, ramp time.Duration, halt <-chan struct{}, wg *sync.WaitGroup, launched *atomic.Int64, run func(i int)) int {
	timer := time.NewTimer(0)
	defer timer.Stop()
	begin := time.Now()
	for i := range n {
		if wait := time.Until(begin.Add(ramp * time.Duration(i) / time.Duration(n))); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			case <-halt:
			}
		}
		select {
		case <-ctx.Done():
			return i
		case <-halt:
			return i
		default:
		}
		wg.Add(1)
		launched.Add(1)
		go func() {
			defer wg.Done()
			run(i)
		}()
	}
	return n
}

// probe plays the URL with one viewer until it gets a keyframe, retrying
// failures, so that a wrong URL or a stream that is not there yet is found
// before thousands of viewers are started.
func (r *runner) probe(ctx context.Context, pubDone <-chan struct{}, url string) error {
	deadline := time.Now().Add(probeTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithCancel(ctx)
		v := new(viewer)
		done := make(chan struct{})
		go func() {
			defer close(done)
			v.run(pctx, r)
		}()
		var err error
	wait:
		for {
			select {
			case <-tick.C:
				if v.ttfk.Load() != 0 {
					break wait
				}
				if time.Now().After(deadline) {
					err = fmt.Errorf("probe: no keyframe from %s within %s", url, probeTimeout)
					break wait
				}
			case <-done:
				if time.Now().After(deadline) {
					err = fmt.Errorf("probe: %s: %s: %w", url, v.failure, v.failErr)
				}
				break wait
			case <-ctx.Done():
				err = ctx.Err()
				break wait
			case <-pubDone:
				err = errors.New("probe: the publisher stopped")
				break wait
			}
		}
		cancel()
		<-done
		if err != nil || viewerState(v.state.Load()) == viewerDone {
			return err
		}
		time.Sleep(250 * time.Millisecond) // the stream may be about to appear
	}
}

// settle waits until every viewer has its first keyframe or has failed,
// so that measuring starts in the steady state.
func settle(viewers []viewer, stopped func() bool) {
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) && !stopped() {
		waiting := false
		for i := range viewers {
			s := viewerState(viewers[i].state.Load())
			if s == viewerConnecting || s == viewerReceiving && viewers[i].ttfk.Load() == 0 {
				waiting = true
				break
			}
		}
		if !waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// snapshot is the state at one end of the measured window.
type snapshot struct {
	at     time.Time
	bytes  []int64 // per viewer or reader
	self   time.Duration
	server procSample
	proc   error
}

// takeSnapshot reads the counters of n clients at one end of the measured
// window.
func takeSnapshot(n int, bytesOf func(int) int64, server *serverProbe) snapshot {
	s := snapshot{at: time.Now(), bytes: make([]int64, n), self: selfCPU()}
	for i := range n {
		s.bytes[i] = bytesOf(i)
	}
	if server != nil {
		s.server, s.proc = readProc(server.pid)
	}
	return s
}

// serverProbe samples the server's process.
type serverProbe struct {
	pid      int
	idleRSS  int64
	peakRSS  atomic.Int64
	lastRSS  atomic.Int64
	failures atomic.Int64 // samples that could not be read
}

func newServerProbe(pid int) (*serverProbe, error) {
	if _, err := readProc(pid); err != nil {
		return nil, fmt.Errorf("--pid %d: %w", pid, err)
	}
	return &serverProbe{pid: pid}, nil
}

// idle takes the RSS before any viewer is connected.
func (s *serverProbe) idle() error {
	// The probe's viewer has just left: give the server a moment to let go.
	time.Sleep(200 * time.Millisecond)
	p, err := readProc(s.pid)
	if err != nil {
		return fmt.Errorf("server process %d: %w", s.pid, err)
	}
	s.idleRSS = p.rss
	s.peakRSS.Store(p.rss)
	s.lastRSS.Store(p.rss)
	return nil
}

// mbps is a rate in Mbit/s.
func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) * 8 / d.Seconds() / 1e6
}
