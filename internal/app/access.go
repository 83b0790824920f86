package app

import (
	"context"
	"fmt"
	"log/slog"
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

func newRefusalLog(logger *slog.Logger) *ratelog.Logger {
	return ratelog.New(logger, refusalLogEvery, refusalLogBurst)
}

// newPolicy compiles the access rules of the config. log is the server's
// one refusal log, kept over reloads so that a reload does not reset its
// bound.
func newPolicy(a config.Access, log auth.Warner) (*auth.Policy, error) {
	c, err := a.Auth()
	if err != nil {
		return nil, err
	}
	c.Log = log
	p, err := auth.NewPolicy(c)
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	return p, nil
}

// unauthorized is all a refused publisher is told.
var unauthorized = &rtmp.StatusError{Code: "NetStream.Publish.BadName", Description: "Unauthorized."}

// guardedPublish asks the guard before it hands a publish request on, with
// who the publisher proved to be.
type guardedPublish struct {
	guard *auth.Guard
	next  publishHandler
}

func (h guardedPublish) Publish(req *rtmp.PublishRequest) (rtmp.Sink, error) {
	if relay.CheckName(req.App, req.Stream) != nil {
		// The hub refuses it and next counts the refusal; the guard (and a
		// publish callback's server) never sees the name.
		return h.next.publish(req, "")
	}
	// The callback's timeout bounds the wait; the connection reads nothing
	// meanwhile, which is what a publisher waiting for its answer expects.
	id, err := h.guard.AuthorizePublish(context.Background(), auth.PublishRequest{
		App: req.App, Stream: req.Stream, Query: req.Query, Client: auth.AddrOf(req.RemoteAddr),
	})
	if err != nil {
		// The RTMP server sends the StatusError and logs the whole error,
		// reason included, at a bounded rate.
		return nil, fmt.Errorf("%w (%w)", unauthorized, err)
	}
	return h.next.publish(req, id)
}

// refusalCollector exports the guard's refusal counts, read at scrape time.
type refusalCollector struct {
	guard *auth.Guard
	desc  *prometheus.Desc
}

func newRefusalCollector(guard *auth.Guard) *refusalCollector {
	return &refusalCollector{guard: guard, desc: prometheus.NewDesc("flvedge_auth_refusals_total",
		"Requests refused by the access rules, by kind (play, publish) and reason (token_invalid, token_expired, referer, rate, ...).",
		[]string{"kind", "reason"}, nil)}
}

func (c *refusalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *refusalCollector) Collect(ch chan<- prometheus.Metric) {
	play, publish := c.guard.Refusals()
	for _, reason := range auth.AllReasons() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(play[reason]), "play", string(reason))
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(publish[reason]), "publish", string(reason))
	}
}
