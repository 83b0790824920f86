package config

import (
	"errors"
	"time"

	"github.com/flvedge/flvedge/web"
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

// check refuses what web.CheckCredentialOrigin refuses.
func (c CORS) check() error {
	for i, o := range c.CredentialOrigins {
		if err := web.CheckCredentialOrigin(o); err != nil {
			return at(err, "cors", "credential_origins", i)
		}
	}
	return nil
}

// checkHosts refuses what web.CheckAdminHost refuses.
func (a Admin) checkHosts() error {
	for i, h := range a.Hosts {
		if err := web.CheckAdminHost(h); err != nil {
			return at(err, "admin", "hosts", i)
		}
	}
	return nil
}
