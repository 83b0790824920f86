package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Check reports what keeps s from working, as NewPolicy refuses it: a
// prefix that is not a path, or a rule that cannot hold. Rules that need
// the whole Config (a prefix given twice, the country database) are
// NewPolicy's to check.
func (s Scope) Check() error {
	return checkScope(&s) // a copy: checkScope replaces its rules
}

// Check reports what keeps r from working, as NewPolicy refuses it. An app
// given twice is NewPolicy's to find.
func (r PublishRule) Check() error {
	_, err := r.compile()
	return err
}

// Check reports a limit that cannot work.
func (l Limits) Check() error {
	if l.Rate < 0 || l.Burst < 0 || l.MaxConnsPerClient < 0 || l.MaxClients < 0 {
		return errors.New("limits must not be negative")
	}
	return nil
}

// checkPrefix refuses a play prefix that no request path could start with.
func checkPrefix(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("play prefix %q must start with /", p)
	}
	return nil
}
