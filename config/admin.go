package config

import (
	"errors"

	"github.com/flvedge/flvedge/web"
)

// Admin is the operators' listener: metrics and the stats API.
type Admin struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
	// Hosts are the names, beside the listen address's host, localhost
	// and IP addresses, that requests may give in Host.
	Hosts             []string `yaml:"hosts"`
	MetricsMaxStreams int      `yaml:"metrics_max_streams"`
	// AccessLog writes one line per finished viewer session.
	AccessLog bool `yaml:"access_log"`
}

func (a Admin) check() error {
	if a.MetricsMaxStreams < 1 {
		return at(errors.New("must be at least 1"), "admin", "metrics_max_streams")
	}
	if err := web.CheckAdminToken(a.Token); err != nil {
		return at(err, "admin", "token")
	}
	return a.checkHosts()
}
