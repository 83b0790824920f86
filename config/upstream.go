package config

import (
	"fmt"
	"net/url"
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
	for _, o := range u.Origins {
		if err := checkHTTPURL(o); err != nil {
			return fmt.Errorf("upstream.origins: %w", err)
		}
	}
	for app, list := range u.AppOrigins {
		if err := relay.CheckApp(app); err != nil {
			return fmt.Errorf("upstream.app_origins: %q: %w", app, err)
		}
		for _, o := range list {
			if err := checkHTTPURL(o); err != nil {
				return fmt.Errorf("upstream.app_origins.%s: %w", app, err)
			}
		}
	}
	switch {
	case u.MaxHops < 1:
		return fmt.Errorf("upstream.max_hops: must be at least 1")
	case u.ConnectTimeout <= 0, u.StallTimeout <= 0, u.ViewerWait <= 0, u.IdleTimeout <= 0, u.RetryFor <= 0:
		return fmt.Errorf("upstream: connect_timeout, stall_timeout, viewer_wait, idle_timeout and retry_for must be positive")
	}
	return nil
}

// Split returns the app and stream name of "app/name".
func (p StaticPull) Split() (app, name string) {
	app, name, _ = strings.Cut(p.Stream, "/")
	return app, name
}

func (p StaticPull) check() error {
	app, name, ok := strings.Cut(p.Stream, "/")
	if !ok {
		return fmt.Errorf("pulls: stream %q must be app/name", p.Stream)
	}
	if err := relay.CheckName(app, name); err != nil {
		return fmt.Errorf("pulls: stream %q: %w", p.Stream, err)
	}
	if err := checkHTTPURL(p.URL); err != nil {
		return fmt.Errorf("pulls: %s: %w", p.Stream, err)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return nil
}
