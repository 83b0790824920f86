package relay

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/ratelog"
)

// ViaHeader carries the IDs of the edges a request passed through, so that
// an edge reaching itself through other tiers sees the loop.
const ViaHeader = "X-Flvedge-Via"

// PullConfig tunes a Puller. Zero durations take defaults.
type PullConfig struct {
	// Origins lists, for an app, the base URLs to pull its streams from
	// (http://host:port), in order of preference. Called for every
	// connection, so that a reload can change it.
	Origins func(app string) []string
	// Header returns the headers sent to origins, e.g. for origin
	// authentication; nil: none. Called for every connection too. They go
	// to the Origins only, not to the URLs of static pulls (Keep).
	Header func() http.Header
	// NodeID names this server in ViaHeader; default: random.
	NodeID  string
	MaxHops int // longest chain of edges a request may pass; default 8
	// ConnectTimeout bounds connecting to an origin and its response
	// header; default 3 s.
	ConnectTimeout time.Duration
	// StallTimeout: an origin that sends no tag for this long has failed;
	// default 5 s.
	StallTimeout time.Duration
	// ViewerWait is the longest a viewer waits for a pull to start before
	// it gets 504; default 10 s.
	ViewerWait time.Duration
	// IdleTimeout: a pull with no viewer, watching or waiting for it to
	// start, for this long stops; default 10 s.
	IdleTimeout time.Duration
	// RetryFor: after losing every origin, a pull keeps trying this long
	// while its viewers wait; default 10 s.
	RetryFor time.Duration
	// Client makes the requests; default: one with ConnectTimeout, HTTP/2
	// over TLS where the origin offers it. The Puller uses a copy that
	// follows no redirect.
	Client *http.Client
}

// UpstreamError is why a stream could not be pulled, as an HTTP status for
// the viewer and a short reason.
type UpstreamError struct {
	Status int
	Reason string
}

func (e *UpstreamError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Reason) }

// Puller pulls streams from origins into a Hub: on demand, once per stream
// however many viewers ask, failing over between origins; and statically,
// streams kept running whether watched or not.
type Puller struct {
	hub *Hub
	cfg PullConfig

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// refusals logs what origins say in their error bodies, at a bounded
	// rate per origin.
	refusals *ratelog.Logger
	health   *originHealth

	mu    sync.Mutex
	pulls map[streamKey]*pull
}

const (
	defaultMaxHops        = 8
	defaultConnectTimeout = 3 * time.Second
	defaultStallTimeout   = 5 * time.Second
	defaultViewerWait     = 10 * time.Second
	defaultIdleTimeout    = 10 * time.Second
	defaultRetryFor       = 10 * time.Second
	minBackoff            = 100 * time.Millisecond
	maxBackoff            = 5 * time.Second
)

// NewPuller returns a Puller feeding hub, or what PullConfig.Check finds
// wrong with cfg. Close stops its pulls.
func NewPuller(hub *Hub, cfg PullConfig) (*Puller, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	setDefault(&cfg.ConnectTimeout, defaultConnectTimeout)
	setDefault(&cfg.StallTimeout, defaultStallTimeout)
	setDefault(&cfg.ViewerWait, defaultViewerWait)
	setDefault(&cfg.IdleTimeout, defaultIdleTimeout)
	setDefault(&cfg.RetryFor, defaultRetryFor)
	if cfg.MaxHops <= 0 {
		cfg.MaxHops = defaultMaxHops
	}
	if cfg.NodeID == "" {
		cfg.NodeID = randomID()
	}
	if cfg.Origins == nil {
		cfg.Origins = func(string) []string { return nil }
	}
	client := http.Client{Transport: UpstreamTransport(cfg.ConnectTimeout)}
	if cfg.Client != nil {
		client = *cfg.Client
	}
	client.CheckRedirect = refuseRedirect
	cfg.Client = &client
	ctx, cancel := context.WithCancel(context.Background())
	p := &Puller{hub: hub, cfg: cfg, ctx: ctx, cancel: cancel, pulls: make(map[streamKey]*pull),
		refusals: ratelog.New(hub.cfg.Logger, refusalLogEvery, refusalLogBurst)}
	p.health = newOriginHealth(p, hub.cfg.Logger)
	return p, nil
}

// An origin that refuses again and again is logged once in a while.
const (
	refusalLogEvery = 10 * time.Second
	refusalLogBurst = 3
)

// refuseRedirect makes the client return a redirect as the response: a pull
// follows none, so that neither the request nor the origin headers
// (credentials) go to a host or path an origin names.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// UpstreamTransport is the transport a Puller uses by default: connecting
// and the response header bounded by connectTimeout, HTTP/2 over TLS where
// the origin offers it, and no timeout on the body, which is endless.
// Callers that need another TLS configuration start from it.
func UpstreamTransport(connectTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		ResponseHeaderTimeout: connectTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
}

// NodeID is this server's name in ViaHeader.
func (p *Puller) NodeID() string { return p.cfg.NodeID }

// Close stops every pull and waits for them; their streams end. The
// client's connections are closed too (an HTTP/3 transport keeps a socket
// and goroutines of its own until closed).
func (p *Puller) Close() {
	p.cancel()
	p.wg.Wait()
	if c, ok := p.cfg.Client.Transport.(io.Closer); ok {
		c.Close()
	} else {
		p.cfg.Client.CloseIdleConnections()
	}
}

// pull is one stream being pulled, shared by all its viewers.
type pull struct {
	key    streamKey
	urls   func() []string // full stream URLs to try, in order
	via    []string        // sent upstream: the chain so far and this node
	static bool            // kept running without viewers, retried forever

	ready chan struct{} // closed once the stream is in the hub, or the pull failed
	err   error         // why it failed, set before ready closes

	// waiting counts viewers waiting for the pull to start: they are
	// viewers, so that a start slower than IdleTimeout is not taken for
	// idleness and ended under them.
	waiting atomic.Int64
}

// Stream returns the stream app/name for a viewer: the local one if it is
// published here, else the pulled one, starting the pull if needed. via is
// the chain of edges the viewer's request came through (from ViaHeader).
// Errors are *UpstreamError; a name outside CheckName's rules is refused
// with 400 before any origin is asked.
func (p *Puller) Stream(ctx context.Context, app, name string, via []string) (*Stream, error) {
	if err := CheckName(app, name); err != nil {
		return nil, &UpstreamError{http.StatusBadRequest, err.Error()}
	}
	if slices.Contains(via, p.cfg.NodeID) {
		return nil, &UpstreamError{http.StatusLoopDetected, "loop: this edge is already in the request's path " + strings.Join(via, ", ")}
	}
	if len(via) >= p.cfg.MaxHops {
		return nil, &UpstreamError{http.StatusLoopDetected, fmt.Sprintf("too many hops between edges (%d)", len(via))}
	}
	key := streamKey{app, name}
	p.mu.Lock()
	if s := p.hub.Lookup(app, name); s != nil {
		p.mu.Unlock()
		return s, nil
	}
	pl := p.pulls[key]
	if pl == nil {
		origins := p.cfg.Origins(app)
		if len(origins) == 0 {
			p.mu.Unlock()
			return nil, &UpstreamError{http.StatusNotFound, "stream not found"}
		}
		if err := p.hub.Room(); err != nil {
			p.mu.Unlock()
			return nil, capacityError(err)
		}
		// Pulls not in the hub yet (asking their origins) count too:
		// else requests for many names at once would start a pull, and
		// origin requests, for each.
		if max := p.hub.cfg.MaxStreams; max > 0 && len(p.pulls) >= max {
			p.mu.Unlock()
			return nil, capacityError(fmt.Errorf("%w: %d pulls (limits.streams)", ErrAtCapacity, max))
		}
		pl = &pull{
			key:   key,
			urls:  func() []string { return streamURLs(p.cfg.Origins(app), app, name) },
			via:   append(slices.Clip(via), p.cfg.NodeID),
			ready: make(chan struct{}),
		}
		if !p.startLocked(pl) {
			p.mu.Unlock()
			return nil, &UpstreamError{http.StatusServiceUnavailable, "server is shutting down"}
		}
	}
	pl.waiting.Add(1)
	defer pl.waiting.Add(-1)
	p.mu.Unlock()

	timer := time.NewTimer(p.cfg.ViewerWait)
	defer timer.Stop()
	select {
	case <-pl.ready:
		if pl.err != nil {
			return nil, pl.err
		}
		if s := p.hub.Lookup(app, name); s != nil {
			return s, nil
		}
		return nil, &UpstreamError{http.StatusBadGateway, "stream ended upstream"}
	case <-timer.C:
		return nil, &UpstreamError{http.StatusGatewayTimeout, "no origin delivered the stream in time"}
	case <-ctx.Done():
		return nil, &UpstreamError{499, "viewer went away"}
	}
}

// capacityError is a viewer's answer when the hub has no room for the
// stream it asked for.
func capacityError(err error) *UpstreamError {
	return &UpstreamError{http.StatusServiceUnavailable, err.Error()}
}

// Keep pulls url into app/name from now until Close, whether watched or not,
// reconnecting with backoff: a static pull. It refuses a name that
// CheckName refuses and a URL that CheckOrigin refuses.
func (p *Puller) Keep(app, name, url string) error {
	if err := CheckName(app, name); err != nil {
		return fmt.Errorf("relay: static pull: %w", err)
	}
	if err := CheckOrigin(url); err != nil {
		return fmt.Errorf("relay: static pull %s/%s: %w", app, name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.startLocked(&pull{
		key:    streamKey{app, name},
		urls:   func() []string { return []string{url} },
		via:    []string{p.cfg.NodeID},
		static: true,
		ready:  make(chan struct{}),
	})
	return nil
}

func (p *Puller) startLocked(pl *pull) bool {
	if p.ctx.Err() != nil {
		return false
	}
	p.pulls[pl.key] = pl
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.run(pl)
	}()
	return true
}

// streamURLs lists where the origins serve app/name. Each is the origin's
// base URL with the escaped segments app and name.flv joined to its path,
// its query kept: escaped, a name stays in its segment and never makes a
// query or fragment on the origin, whatever CheckName lets through (which
// keeps "." and ".." out). An origin that CheckOrigin refuses (the config
// refuses it first) is left out.
func streamURLs(origins []string, app, name string) []string {
	urls := make([]string, 0, len(origins))
	for _, o := range origins {
		if CheckOrigin(o) != nil {
			continue
		}
		u, _ := url.Parse(o)
		var err error
		u.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + "/" + url.PathEscape(app) + "/" + url.PathEscape(name+".flv")
		if u.Path, err = url.PathUnescape(u.RawPath); err != nil {
			continue // cannot fail: every part of RawPath is escaped
		}
		urls = append(urls, u.String())
	}
	return urls
}

// source is what a pull remembers across upstream connections, so that a
// reconnection continues the stream seamlessly.
type source struct {
	pub    *Publisher
	url    string    // the origin the last tags came from
	lastTS [2]uint32 // the origin's timestamps of the last audio and video tag passed on
	seen   [2]bool
}

// run is a pull's life: connect to origins in order, stream from the first
// that has the stream, fail over when it fails, and end when nobody watches
// or no origin comes back in time.
func (p *Puller) run(pl *pull) {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	log := p.hub.cfg.Logger.With("app", pl.key.app, "stream", pl.key.name)
	var src source
	defer func() {
		if src.pub != nil {
			src.pub.End()
		}
		pl.fail(&UpstreamError{http.StatusBadGateway, "pull stopped"})
		p.mu.Lock()
		if p.pulls[pl.key] == pl {
			delete(p.pulls, pl.key)
		}
		p.mu.Unlock()
	}()
	if !pl.static {
		go p.stopWhenIdle(ctx, cancel, pl)
	}

	backoff := minBackoff
	lastGood := time.Now()
	for ctx.Err() == nil {
		streamed, err := p.tryOrigins(ctx, pl, &src, log)
		if streamed {
			backoff, lastGood = minBackoff, time.Now()
		}
		if ctx.Err() != nil {
			return
		}
		if src.pub == nil && !pl.static {
			pl.fail(err) // no origin ever had it: tell the waiting viewers why
			return
		}
		if !pl.static && time.Since(lastGood) > p.cfg.RetryFor {
			log.Warn("pull: giving up, no origin has the stream", "err", err)
			return
		}
		log.Info("pull: every origin failed, retrying", "err", err, "in", backoff)
		src.setState(stateRetrying)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stopWhenIdle cancels the pull once it has had no viewer, watching or
// waiting for it to start, for IdleTimeout.
func (p *Puller) stopWhenIdle(ctx context.Context, cancel context.CancelFunc, pl *pull) {
	tick := time.NewTicker(min(p.cfg.IdleTimeout/4, time.Second))
	defer tick.Stop()
	var idleSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s := p.hub.Lookup(pl.key.app, pl.key.name)
			if pl.waiting.Load() > 0 || s != nil && s.Viewers() > 0 {
				idleSince = time.Time{}
				continue
			}
			if idleSince.IsZero() {
				idleSince = now
			} else if now.Sub(idleSince) >= p.cfg.IdleTimeout {
				p.hub.cfg.Logger.Info("pull: no viewers, stopping", "app", pl.key.app, "stream", pl.key.name)
				cancel()
				return
			}
		}
	}
}

// tryOrigins goes through the origins once, healthy ones first, each group
// in the order of preference. An origin that streams is used until it
// fails; then the next one is tried at once. It reports whether any tag
// came through, and why the origins failed (see verdict).
func (p *Puller) tryOrigins(ctx context.Context, pl *pull, src *source, log *slog.Logger) (streamed bool, err error) {
	src.setState(stateConnecting)
	var v verdict
	for _, url := range p.health.order(pl.urls()) {
		resp, err := p.get(ctx, pl, url)
		if ctx.Err() != nil {
			return streamed, ctx.Err()
		}
		if err != nil {
			var ue *UpstreamError
			errors.As(err, &ue) // every error of get is one
			if errors.As(err, new(noAnswer)) || ue.Status == http.StatusServiceUnavailable {
				p.health.failed(url, ue.Error())
			} else {
				p.health.ok(url)
			}
			if ue.Status < 500 && ue.Status != http.StatusNotFound && src.pub == nil {
				return streamed, err // the origin's refusal is the viewer's answer
			}
			if ue.Status != http.StatusNotFound {
				log.Info("pull: origin failed", "origin", Redacted(url), "err", err)
			}
			v.add(err)
			continue
		}
		p.health.ok(url)
		n, serr := p.stream(ctx, pl, src, url, resp.Body)
		resp.Body.Close()
		if errors.Is(serr, ErrAtCapacity) {
			return streamed, capacityError(serr) // no origin would do better
		}
		streamed = streamed || n > 0
		if ctx.Err() != nil {
			return streamed, ctx.Err()
		}
		local := errors.Is(serr, ErrReplaced) || errors.Is(serr, ErrStreamBusy) || errors.Is(serr, ErrHubClosed)
		if serr != nil && serr != io.EOF && !local {
			// Cut or stalled, rather than ended: the origin may be gone.
			// If it is not, the probe finds it back at once.
			p.health.failed(url, "stream broke: "+serr.Error())
		}
		v.add(noAnswer{&UpstreamError{http.StatusBadGateway, "origin stream broke: " + errString(serr)}})
		log.Info("pull: origin stream ended, failing over", "origin", Redacted(url), "tags", n, "err", serr)
	}
	return streamed, v.err()
}

// Redacted is rawURL as logs, stats and metrics show it: without the
// password of its user information (http://user:xxxxx@host/), which the
// client sends the origin as Basic authentication and nobody else may see.
func Redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(an origin URL that does not parse)"
	}
	return u.Redacted()
}

// noAnswer marks a failure to get any answer from an origin: unreachable,
// timed out, or its stream cut.
type noAnswer struct{ error }

func (e noAnswer) Unwrap() error { return e.error }

// verdict is what a viewer is told when no origin delivered the stream.
// Where one origin answered, its status passes as it is (a 503 stays a
// 503). Where several failed, the most informative answer wins, as a CDN
// would choose it:
//
//  1. a refusal (4xx but 404: 401, 403, ...) is final at once; the other
//     origins are not asked (see tryOrigins);
//  2. 404 if any origin said the stream is not there: an answer about the
//     stream beats any about a server's state, and a stream that no
//     reachable origin has is not found;
//  3. else the status of the first origin that answered (500, 503, 508
//     ...), as it is;
//  4. else no origin answered: the first failure, 502 for an unreachable
//     origin, 504 for one that did not answer in time.
type verdict struct {
	notFound, answered, unanswered error
}

func (v *verdict) add(err error) {
	var ue *UpstreamError
	errors.As(err, &ue)
	switch {
	case ue != nil && ue.Status == http.StatusNotFound:
		v.notFound = cmp.Or(v.notFound, err)
	case errors.As(err, new(noAnswer)):
		v.unanswered = cmp.Or(v.unanswered, err)
	default:
		v.answered = cmp.Or(v.answered, err)
	}
}

func (v *verdict) err() error {
	if err := cmp.Or(v.notFound, v.answered, v.unanswered); err != nil {
		return err
	}
	return &UpstreamError{http.StatusNotFound, "stream not found"} // no origin at all
}

func errString(err error) string {
	if err == nil {
		return "end of stream"
	}
	return err.Error()
}

// get requests one origin's stream and returns its response if it is 200.
// A viewer learns the status of a refusal, never the origin's words.
func (p *Puller) get(ctx context.Context, pl *pull, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		p.refusals.Warn(url, "pull: bad origin URL", "err", err.Error())
		return nil, &UpstreamError{http.StatusBadGateway, "bad origin URL"}
	}
	if p.cfg.Header != nil && !pl.static {
		for k, vs := range p.cfg.Header() {
			req.Header[k] = slices.Clone(vs)
		}
	}
	req.Header.Set(ViaHeader, strings.Join(pl.via, ","))
	// The connection serves this one stream and closes with it: kept idle
	// after a refusal or an end, it would be a second connection to an
	// origin that serves nothing.
	req.Close = true
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, noAnswer{&UpstreamError{http.StatusGatewayTimeout, "origin timed out"}}
		}
		return nil, noAnswer{&UpstreamError{http.StatusBadGateway, "origin unreachable"}}
	}
	status := resp.StatusCode
	if status == http.StatusOK && resp.Header.Get("Accept-Ranges") == "bytes" {
		// A body that can be read by ranges is a stored file (as file
		// servers answer, flvedge's VOD too), not a live stream: pulled
		// as one, it would end and be pulled again, in a loop. Stored
		// files go through the VOD prefixes (vod.origins).
		resp.Body.Close()
		return nil, &UpstreamError{http.StatusNotFound, "a stored file, not a live stream"}
	}
	if status == http.StatusOK {
		return resp, nil
	}
	said := firstLine(resp.Body)
	resp.Body.Close()
	if status != http.StatusNotFound { // "not here" is routine with several origins
		args := []any{"origin", Redacted(url), "status", status, "body", said}
		if loc := resp.Header.Get("Location"); loc != "" {
			args = append(args, "location", ratelog.Clip(loc))
		}
		p.refusals.Warn(req.URL.Host, "pull: origin answered without the stream", args...)
	}
	switch {
	case status >= 500 && status != http.StatusLoopDetected:
		// A server error passes as it is (see verdict): a 503 says more
		// than a 502.
		return nil, &UpstreamError{status, fmt.Sprintf("origin answered %d", status)}
	case status/100 != 4 && status != http.StatusLoopDetected:
		// A redirect or any other answer: the origin failed.
		return nil, &UpstreamError{http.StatusBadGateway, fmt.Sprintf("origin answered %d", status)}
	}
	return nil, &UpstreamError{status, refusalText(status)}
}

// refusalText is what a viewer is told of an origin's refusal: a fixed text
// for its status. The origin's own words may tell what viewers must not
// know (internal names, hints about credentials), or be a message forged
// to be shown in a player.
func refusalText(status int) string {
	switch status {
	case http.StatusNotFound:
		return "stream not found"
	case http.StatusLoopDetected:
		return "loop: an edge further up already has this request in its path"
	}
	return fmt.Sprintf("origin refused the stream: %d %s", status, http.StatusText(status))
}

// firstLine reads the start of an error body, which our servers and most
// others fill with a short reason, for the log.
func firstLine(r io.Reader) string {
	line, _ := bufio.NewReader(io.LimitReader(r, ratelog.ClipLen)).ReadString('\n')
	return strings.TrimSpace(line)
}

// stream copies one origin response into the stream until it ends, stalls
// or ctx ends. It returns how many tags it passed on.
func (p *Puller) stream(ctx context.Context, pl *pull, src *source, url string, body io.ReadCloser) (int, error) {
	// A stalled origin sends nothing, so a read would wait forever: the
	// watchdog closes the body, which ends the read.
	var stalled atomic.Bool
	stall := time.AfterFunc(p.cfg.StallTimeout, func() {
		stalled.Store(true)
		body.Close()
	})
	defer stall.Stop()
	r := flv.NewReader(body)
	if _, err := r.ReadHeader(); err != nil {
		return 0, err
	}
	if src.pub == nil {
		pub, err := p.hub.Publish(pl.key.app, pl.key.name, func() { body.Close() })
		if err != nil {
			return 0, err
		}
		src.pub = pub
		pl.markReady()
	}
	// Tags from the same origin continue the same stream: what was passed
	// on already is skipped, and the timeline goes on untouched. Another
	// origin is a new source, another encoder's stream even where it
	// carries the same picture: its video starts at its own keyframe, and
	// the timeline decides from its timestamps whether it is on the old
	// clock (see sourceSwitch).
	sameStream := src.url == url
	c := &src.pub.stream.counters
	switch src.url {
	case "":
	case url:
		c.reconnects.Add(1)
	default:
		c.failovers.Add(1)
	}
	src.url = url
	shown := Redacted(url)
	c.upstreamOrigin.Store(&shown)
	src.setState(stateStreaming)
	decided := false
	passed := 0
	for {
		// The tag's body is valid until the next read: WriteTag copies
		// what it keeps into the window, so reading allocates nothing.
		tag, err := r.ReadTagReuse()
		if err != nil {
			if stalled.Load() {
				return passed, fmt.Errorf("no tag for %v", p.cfg.StallTimeout)
			}
			return passed, err
		}
		stall.Reset(p.cfg.StallTimeout)
		track := flv.TrackOf(tag.Type)
		if track != flv.NoTrack && !decided {
			decided = true
			// An origin whose clock went far back restarted its stream.
			if sameStream && src.seen[track] && tag.Timestamp+uint32(p.hub.cfg.MaxTimestampJump/time.Millisecond) < src.lastTS[track] {
				sameStream = false
			}
			if !sameStream && (src.seen[flv.AudioTrack] || src.seen[flv.VideoTrack]) {
				src.pub.Restart()
			}
		}
		if track != flv.NoTrack && sameStream && src.seen[track] && tag.Timestamp <= src.lastTS[track] {
			continue // sent before the reconnection
		}
		if err := src.pub.WriteTag(tag); err != nil {
			return passed, err
		}
		if track != flv.NoTrack {
			src.lastTS[track], src.seen[track] = tag.Timestamp, true
		}
		passed++
	}
}

// Upstream states, as Stats reports them.
const (
	stateConnecting = "connecting"
	stateStreaming  = "streaming"
	stateRetrying   = "retrying"
)

func (src *source) setState(state string) {
	if src.pub != nil {
		src.pub.stream.counters.upstreamState.Store(&state)
	}
}

func (pl *pull) markReady() {
	select {
	case <-pl.ready:
	default:
		close(pl.ready)
	}
}

// fail ends the wait of viewers with err, unless the stream was ready.
func (pl *pull) fail(err error) {
	select {
	case <-pl.ready:
	default:
		pl.err = err
		close(pl.ready)
	}
}
