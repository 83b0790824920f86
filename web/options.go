package web

// The checks of settings that the config calls, so that a bad value is
// refused at its line with the rule of the package that uses it.

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseCoalesceMode reads a CoalesceMode by its name: adaptive or fixed.
func ParseCoalesceMode(s string) (CoalesceMode, error) {
	switch s {
	case "adaptive":
		return CoalesceAdaptive, nil
	case "fixed":
		return CoalesceFixed, nil
	}
	return 0, fmt.Errorf("coalesce mode %q is neither adaptive nor fixed", s)
}

// CheckMpegtsURL reports whether s can be Pages.MpegtsURL, the source of
// the player page's script: an http:// or https:// URL, or a path on this
// server ("/static/mpegts.js", so that an operator hosts the library
// without a CDN and without rebuilding). Anything else (javascript:, a
// scheme-relative //host) is no place to load a script from.
func CheckMpegtsURL(s string) error {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL, nor a path such as /static/mpegts.js", s)
	}
	return nil
}

// CheckCredentialOrigin reports whether o can be one of
// CORS.CredentialOrigins: an origin as browsers send it in Origin,
// scheme://host[:port] and nothing after, which trusts compares whole.
func CheckCredentialOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
		return fmt.Errorf("%q is not an origin such as https://player.example.com", o)
	}
	return nil
}

// CheckAdminHost reports whether h can be one of AdminAccess.Hosts: a
// host name that a Host header, its port left out, could match.
func CheckAdminHost(h string) error {
	if h == "" || strings.ContainsAny(h, "/:@*[] ") {
		return fmt.Errorf("%q is not a host name such as metrics.internal (no port)", h)
	}
	return nil
}

// minAdminToken bounds AdminAccess.Token from below: it is a password
// sent over the network.
const minAdminToken = 16

// CheckAdminToken reports whether t can be AdminAccess.Token (empty: none).
func CheckAdminToken(t string) error {
	if t != "" && len(t) < minAdminToken {
		return fmt.Errorf("admin token: use at least %d characters", minAdminToken)
	}
	return nil
}
