package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flvedge/flvedge/relay"
)

// Upstream is where an edge pulls streams from, and how.
type Upstream struct {
	Origins        []string            `yaml:"origins"`
	AppOrigins     map[string][]string `yaml:"app_origins"`
	Headers        map[string]string   `yaml:"headers"`
	NodeID         string              `yaml:"node_id"`
	MaxHops        int                 `yaml:"max_hops"`
	ConnectTimeout time.Duration       `yaml:"connect_timeout"`
	StallTimeout   time.Duration       `yaml:"stall_timeout"`
	ViewerWait     time.Duration       `yaml:"viewer_wait"`
	IdleTimeout    time.Duration       `yaml:"idle_timeout"`
	RetryFor       time.Duration       `yaml:"retry_for"`
	CA             string              `yaml:"ca"`
	HTTP3          bool                `yaml:"http3"`
}

// StaticPull is a stream an ingest pulls all the time.
type StaticPull struct {
	Stream string `yaml:"stream"` // local app/name
	URL    string `yaml:"url"`    // an HTTP-FLV URL
}

// OriginsFor lists the origins of an app: its own, else the default list.
func (u Upstream) OriginsFor(app string) []string {
	if o, ok := u.AppOrigins[app]; ok {
		return o
	}
	return u.Origins
}

// Pulling reports whether any origin is configured.
func (u Upstream) Pulling() bool { return len(u.Origins) > 0 || len(u.AppOrigins) > 0 }

func (u Upstream) check() error {
	for i, o := range u.Origins {
		if err := relay.CheckOrigin(o); err != nil {
			return at(err, "upstream", "origins", i)
		}
	}
	for app, list := range u.AppOrigins {
		if err := relay.CheckApp(app); err != nil {
			return at(err, "upstream", "app_origins", app)
		}
		for i, o := range list {
			if err := relay.CheckOrigin(o); err != nil {
				return at(err, "upstream", "app_origins", app, i)
			}
		}
	}
	if err := relay.CheckNodeID(u.NodeID); err != nil {
		return at(err, "upstream", "node_id")
	}
	if u.MaxHops < 1 {
		return at(errors.New("must be at least 1"), "upstream", "max_hops")
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"connect_timeout", u.ConnectTimeout}, {"stall_timeout", u.StallTimeout}, {"viewer_wait", u.ViewerWait}, {"idle_timeout", u.IdleTimeout}, {"retry_for", u.RetryFor}} {
		if d.d <= 0 {
			return at(errors.New("must be positive"), "upstream", d.key)
		}
	}
	return nil
}

// PullConfig is the relay package's form of these settings, but for what
// the server wires itself: the client, and the origins and headers, which
// it reads from the config in force at each connection.
func (u Upstream) PullConfig() relay.PullConfig {
	return relay.PullConfig{
		NodeID:         u.NodeID,
		MaxHops:        u.MaxHops,
		ConnectTimeout: u.ConnectTimeout,
		StallTimeout:   u.StallTimeout,
		ViewerWait:     u.ViewerWait,
		IdleTimeout:    u.IdleTimeout,
		RetryFor:       u.RetryFor,
	}
}

// Split returns the app and stream name of "app/name".
func (p StaticPull) Split() (app, name string) {
	app, name, _ = strings.Cut(p.Stream, "/")
	return app, name
}

// checkPulls refuses what Puller.Keep would.
func (c Config) checkPulls() error {
	for i, p := range c.Pulls {
		app, name, ok := strings.Cut(p.Stream, "/")
		if !ok {
			return at(fmt.Errorf("%q must be app/name", p.Stream), "pulls", i, "stream")
		}
		if err := relay.CheckName(app, name); err != nil {
			return at(err, "pulls", i, "stream")
		}
		if err := relay.CheckOrigin(p.URL); err != nil {
			return at(err, "pulls", i, "url")
		}
	}
	return nil
}
