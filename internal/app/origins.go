package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/relay"
)

// originCollector exports the health of each configured origin as the
// edge's pulls see it (relay's origin health). Origins come from the
// configuration, so the label stays bounded.
type originCollector struct {
	puller   *relay.Puller
	upstream func() config.Upstream
	desc     *prometheus.Desc
}

func newOriginCollector(puller *relay.Puller, upstream func() config.Upstream) *originCollector {
	return &originCollector{puller: puller, upstream: upstream, desc: prometheus.NewDesc("flvedge_upstream_origin_up",
		"0 if the origin failed and no probe has found it back since (new pulls try it last), else 1. An origin no pull has wanted for a minute is no longer probed and counts as 1 until it fails again.",
		[]string{"origin"}, nil)}
}

func (c *originCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *originCollector) Collect(ch chan<- prometheus.Metric) {
	u := c.upstream()
	seen := map[string]bool{}
	emit := func(origins []string) {
		for _, o := range origins {
			if seen[o] {
				continue
			}
			seen[o] = true
			up := 1.0
			if c.puller.OriginDown(o) {
				up = 0
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, up, o)
		}
	}
	emit(u.Origins)
	for _, origins := range u.AppOrigins {
		emit(origins)
	}
}
