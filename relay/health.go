package relay

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// originHealth remembers, for all the streams of a Puller, which origins
// failed, so that a new pull does not wait for a dead origin's connect
// timeout before trying the next one. An origin that failed is tried after
// the healthy ones until a probe finds it back; then it is first again in
// its place in the order of preference.
//
// Origins are told apart by scheme and host: what fails is a server.
type originHealth struct {
	p    *Puller
	log  *slog.Logger
	mu   sync.Mutex
	down map[string]*downOrigin
}

type downOrigin struct {
	since  time.Time
	wanted time.Time // the last time a pull had it among its origins
}

const (
	// firstProbe and maxBackoff space the probes of an origin that is down.
	firstProbe = 250 * time.Millisecond
	// forgetAfter: an origin that no pull has wanted for this long is not
	// probed any more (a reload took it out of the configuration); it
	// counts as healthy again.
	forgetAfter = time.Minute
)

func newOriginHealth(p *Puller, log *slog.Logger) *originHealth {
	return &originHealth{p: p, log: log, down: make(map[string]*downOrigin)}
}

// originOf is the server part of a stream URL, scheme://host.
func originOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Scheme + "://" + u.Host
}

// order returns urls with the healthy origins first, each group in the
// order of preference.
func (h *originHealth) order(urls []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	up := make([]string, 0, len(urls))
	var down []string
	for _, u := range urls {
		if d := h.down[originOf(u)]; d != nil {
			d.wanted = now
			down = append(down, u)
			continue
		}
		up = append(up, u)
	}
	return append(up, down...)
}

// failed marks the origin of rawURL down and starts probing it.
func (h *originHealth) failed(rawURL, reason string) {
	origin := originOf(rawURL)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down[origin] != nil {
		return
	}
	now := time.Now()
	h.down[origin] = &downOrigin{since: now, wanted: now}
	h.log.Warn("origin down: new pulls try the other origins first", "origin", origin, "reason", reason)
	if h.p.ctx.Err() != nil {
		return
	}
	h.p.wg.Add(1)
	go func() {
		defer h.p.wg.Done()
		h.probe(origin)
	}()
}

// ok marks the origin of rawURL healthy: it answered.
func (h *originHealth) ok(rawURL string) {
	origin := originOf(rawURL)
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.down[origin]; d != nil {
		delete(h.down, origin)
		h.log.Info("origin up", "origin", origin, "down_for", time.Since(d.since).Round(time.Millisecond))
	}
}

// probe asks a down origin, with growing intervals, for any answer until it
// gives one or nobody wants it any more.
func (h *originHealth) probe(origin string) {
	wait := firstProbe
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-h.p.ctx.Done():
			return
		case <-timer.C:
		}
		h.mu.Lock()
		d := h.down[origin]
		if d != nil && time.Since(d.wanted) > forgetAfter {
			delete(h.down, origin)
			d = nil
		}
		h.mu.Unlock()
		if d == nil {
			return // back already (a pull got through), or forgotten
		}
		if h.answers(origin) {
			h.ok(origin)
			return
		}
		wait = min(2*wait, maxBackoff)
		timer.Reset(wait)
	}
}

// answers reports whether the origin answers HTTP at all: any status but
// 503 (unavailable: draining, full) shows the server is there, even 401
// (so the probe needs no origin credentials). It asks for / with HEAD,
// which costs any server little and starts no pull.
func (h *originHealth) answers(origin string) bool {
	p := h.p
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.ConnectTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, origin+"/", nil)
	if err != nil {
		return false
	}
	req.Close = true // no idle connection left behind
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusServiceUnavailable
}

// OriginDown reports whether an origin (a base URL as configured) failed
// and no probe has found it back since.
func (p *Puller) OriginDown(base string) bool {
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down[originOf(base)] != nil
}
