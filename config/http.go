package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// HTTPTimeouts bound what a client may hold on the HTTP, HTTPS (HTTP/3
// too) and admin listeners without a response in progress. A live viewer's
// endless response is bounded per write instead (viewers.write_timeout).
type HTTPTimeouts struct {
	ReadHeader time.Duration `yaml:"read_header"`
	Idle       time.Duration `yaml:"idle"`
}

func (t HTTPTimeouts) check() error {
	switch {
	case t.ReadHeader <= 0:
		return at(errors.New("must be positive, e.g. 10s"), "http_timeouts", "read_header")
	case t.Idle <= 0:
		return at(errors.New("must be positive, e.g. 75s"), "http_timeouts", "idle")
	}
	return nil
}

// CORS is what pages on other sites may read of the HTTP listener.
type CORS struct {
	// CredentialOrigins may read with the visitor's cookies and HTTP
	// authentication; every other origin reads without.
	CredentialOrigins []string `yaml:"credential_origins"`
}

// check refuses what is not an origin as browsers send it in Origin:
// scheme://host[:port], nothing after.
func (c CORS) check() error {
	for i, o := range c.CredentialOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
			return at(fmt.Errorf("%q is not an origin such as https://player.example.com", o), "cors", "credential_origins", i)
		}
	}
	return nil
}

// checkHosts refuses admin host names that no Host header could match.
func (a Admin) checkHosts() error {
	for i, h := range a.Hosts {
		if h == "" || strings.ContainsAny(h, "/:@*[] ") {
			return at(fmt.Errorf("%q is not a host name such as metrics.internal (no port)", h), "admin", "hosts", i)
		}
	}
	return nil
}
