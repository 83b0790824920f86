package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/ratelog"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/rtmp"
)

// A client refused again and again is logged once in a while: a scraper
// without a token must not fill the log.
const (
	refusalLogEvery = 10 * time.Second
	refusalLogBurst = 3
)

// newGuard builds the access rules of the config.
func newGuard(a config.Access, logger *slog.Logger) (*auth.Guard, error) {
	c, err := a.Auth()
	if err != nil {
		return nil, err
	}
	c.Log = ratelog.New(logger, refusalLogEvery, refusalLogBurst)
	g, err := auth.New(c)
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	return g, nil
}

// unauthorized is all a refused publisher is told.
var unauthorized = &rtmp.StatusError{Code: "NetStream.Publish.BadName", Description: "Unauthorized."}

// guardedPublish asks the guard before it hands a publish request on.
type guardedPublish struct {
	guard func() *auth.Guard // the current one: a reload replaces it
	next  rtmp.Handler
}

func (h guardedPublish) Publish(req *rtmp.PublishRequest) (rtmp.Sink, error) {
	if relay.CheckName(req.App, req.Stream) != nil {
		// The hub refuses it and next counts the refusal; the guard (and a
		// publish callback's server) never sees the name.
		return h.next.Publish(req)
	}
	// The callback's timeout bounds the wait; the connection reads nothing
	// meanwhile, which is what a publisher waiting for its answer expects.
	err := h.guard().AuthorizePublish(context.Background(), auth.PublishRequest{
		App: req.App, Stream: req.Stream, Query: req.Query, Client: auth.AddrOf(req.RemoteAddr),
	})
	if err != nil {
		// The RTMP server sends the StatusError and logs the whole error,
		// reason included, at a bounded rate.
		return nil, fmt.Errorf("%w (%w)", unauthorized, err)
	}
	return h.next.Publish(req)
}

// refusalCollector exports the guards' refusal counts, read at scrape time.
// A reload replaces the guard; the old one's counts are kept, so that the
// counters never go back.
type refusalCollector struct {
	guard func() *auth.Guard
	desc  *prometheus.Desc

	mu                  sync.Mutex
	retiredPlay, retPub map[auth.Reason]uint64
}

func newRefusalCollector(guard func() *auth.Guard) *refusalCollector {
	return &refusalCollector{guard: guard, desc: prometheus.NewDesc("flvedge_auth_refusals_total",
		"Requests refused by the access rules, by kind (play, publish) and reason (token_invalid, token_expired, referer, rate, ...).",
		[]string{"kind", "reason"}, nil),
		retiredPlay: map[auth.Reason]uint64{}, retPub: map[auth.Reason]uint64{}}
}

// retire adds the counts of a guard that a reload replaced.
func (c *refusalCollector) retire(old *auth.Guard) {
	play, publish := old.Refusals()
	c.mu.Lock()
	defer c.mu.Unlock()
	for r, n := range play {
		c.retiredPlay[r] += n
	}
	for r, n := range publish {
		c.retPub[r] += n
	}
}

func (c *refusalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *refusalCollector) Collect(ch chan<- prometheus.Metric) {
	play, publish := c.guard().Refusals()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, reason := range auth.AllReasons() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(play[reason]+c.retiredPlay[reason]), "play", string(reason))
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(publish[reason]+c.retPub[reason]), "publish", string(reason))
	}
}
