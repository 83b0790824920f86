package auth

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/flvedge/flvedge/ratelog"
)

// Each rule below has an Allow and a Deny list. A request matching Deny is
// refused; otherwise, when Allow is not empty, a request matching nothing in
// it is refused.
func allowed(allow, deny []string, match func(pattern string) bool) bool {
	if slices.ContainsFunc(deny, match) {
		return false
	}
	return len(allow) == 0 || slices.ContainsFunc(allow, match)
}

// RefererRule stops hotlinking: other sites' pages embedding the player.
type RefererRule struct {
	// Allow and Deny list the hosts of pages: "example.com" is that host,
	// "*.example.com" its subdomains, "*" any page.
	Allow, Deny []string
	// AllowEmpty lets requests without a Referer through: players outside
	// browsers (ffmpeg, VLC, apps) and pages with a no-referrer policy send
	// none.
	AllowEmpty bool
}

func (r *RefererRule) check(referer string) error {
	if referer == "" {
		if r.AllowEmpty {
			return nil
		}
		return fmt.Errorf("%w: no Referer", RefererDenied)
	}
	host := refererHost(referer)
	if !allowed(r.Allow, r.Deny, func(p string) bool { return hostMatches(p, host) }) {
		return fmt.Errorf("%w: %q", RefererDenied, ratelog.Clip(referer))
	}
	return nil
}

// refererHost is the lower-case host of a Referer, "" for one that is no URL
// with a host (some proxies blank it to "XXXX").
func refererHost(referer string) string {
	u, err := url.Parse(referer)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

func hostMatches(pattern, host string) bool {
	if host == "" {
		return false
	}
	if pattern == "*" {
		return true
	}
	if parent, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+parent)
	}
	return host == pattern
}

func normalizeHosts(patterns []string) ([]string, error) {
	out := make([]string, len(patterns))
	for i, p := range patterns {
		p = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(p)), ".")
		bare := strings.TrimPrefix(p, "*.")
		if p != "*" && (bare == "" || strings.ContainsAny(bare, "*/:?# ")) {
			return nil, fmt.Errorf("referer %q is no host such as example.com or *.example.com", patterns[i])
		}
		out[i] = p
	}
	return out, nil
}

// AgentRule admits or refuses clients by User-Agent. The patterns match
// anywhere in the header unless anchored; "(?i)" makes them ignore case, and
// "^$" matches a request without one.
type AgentRule struct {
	Allow, Deny []*regexp.Regexp
}

func (r *AgentRule) check(agent string) error {
	if slices.ContainsFunc(r.Deny, func(re *regexp.Regexp) bool { return re.MatchString(agent) }) ||
		len(r.Allow) > 0 && !slices.ContainsFunc(r.Allow, func(re *regexp.Regexp) bool { return re.MatchString(agent) }) {
		return fmt.Errorf("%w: %q", AgentDenied, ratelog.Clip(agent))
	}
	return nil
}

// IPRule admits or refuses clients by address. A single address is a /32 or
// /128 prefix. A client whose address is unknown matches nothing.
type IPRule struct {
	Allow, Deny []netip.Prefix
}

func (r *IPRule) check(client netip.Addr) error {
	in := func(p netip.Prefix) bool { return p.Contains(client) }
	if slices.ContainsFunc(r.Deny, in) || len(r.Allow) > 0 && !slices.ContainsFunc(r.Allow, in) {
		return fmt.Errorf("%w: %v", IPDenied, client)
	}
	return nil
}

// CountryRule admits or refuses clients by the country of their address:
// ISO 3166-1 alpha-2 codes such as "DE", looked up in the Config's
// CountryDB. An address the database does not know has no country, matches
// nothing, and so is refused by an Allow list.
type CountryRule struct {
	Allow, Deny []string
}

func (r *CountryRule) check(country string) error {
	if !allowed(r.Allow, r.Deny, func(c string) bool { return c == country && c != "" }) {
		if country == "" {
			country = "unknown"
		}
		return fmt.Errorf("%w: %s", CountryDenied, country)
	}
	return nil
}

func normalizeCountries(codes []string) ([]string, error) {
	out := make([]string, len(codes))
	for i, c := range codes {
		c = strings.ToUpper(strings.TrimSpace(c))
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return nil, fmt.Errorf("country %q is no ISO 3166-1 alpha-2 code such as DE", codes[i])
		}
		out[i] = c
	}
	return out, nil
}
