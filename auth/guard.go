package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Config is a whole access policy. The zero Config allows everything.
type Config struct {
	// Play holds the rules of play paths by prefix. A request follows the
	// Scope with the longest Prefix that its path starts with; each part of
	// that Scope left nil is taken from the next shorter matching Prefix,
	// as locations inherit in nginx.
	Play []Scope
	// Publish holds the rules of RTMP publishers by app.
	Publish []PublishRule
	// Proxies whose X-Forwarded-For names the client.
	Proxies Proxies
	// Exempt clients pass every play rule and limit: edges pulling from an
	// ingest whose viewers need tokens, monitoring.
	Exempt []netip.Prefix
	// CountryDB is the path of a MaxMind DB (.mmdb) file with countries;
	// needed when a rule names countries.
	CountryDB string
	// Limits per client, over all play paths.
	Limits Limits
	// Log receives one warning per refusal, keyed by client address; it
	// should bound its rate per source (ratelog.Logger does). nil: none.
	Log Warner
}

// Warner writes a warning about a source at a bounded rate.
type Warner interface {
	Warn(source, msg string, args ...any)
}

// Scope is the rules of the play paths that start with Prefix.
type Scope struct {
	// Prefix is matched as a string: "/live/" covers the app live,
	// "/live/cam" also /live/cam1.flv, "/" every path.
	Prefix string

	Token    *TokenRule // a TokenRule without secrets lifts an inherited one
	Referer  *RefererRule
	Agent    *AgentRule
	IP       *IPRule
	Country  *CountryRule
	Callback *Callback
	// MaxViewers bounds the open requests of one path (one stream, one
	// file). 0 inherits; negative lifts an inherited limit.
	MaxViewers int
}

// SetRootToken makes every play path require tokens by rule, except those
// under a Prefix whose Scope has a TokenRule of its own. It replaces the
// TokenRule of the "/" Scope: command-line secrets override the file's.
func (c *Config) SetRootToken(rule TokenRule) {
	for i := range c.Play {
		if c.Play[i].Prefix == "/" {
			c.Play[i].Token = &rule
			return
		}
	}
	c.Play = append([]Scope{{Prefix: "/", Token: &rule}}, c.Play...)
}

// PlayToken returns the TokenRule that applies to a play path, nil when the
// path needs no token: what a signing tool signs with.
func (c *Config) PlayToken(path string) (*TokenRule, error) {
	p := &Policy{}
	if _, err := p.compileScopes(c.Play); err != nil {
		return nil, err
	}
	if t := p.scopeFor(path).token; t.Required() {
		return t, nil
	}
	return nil, nil
}

// PublishToken returns the TokenRule of an app's publishers, nil when they
// use no signed keys.
func (c *Config) PublishToken(app string) (*TokenRule, error) {
	rules, err := compilePublish(c.Publish)
	if err != nil {
		return nil, err
	}
	r := rules[app]
	if r == nil {
		r = rules["*"]
	}
	if r == nil || !r.token.Required() {
		return nil, nil
	}
	return r.token, nil
}

// Guard enforces a Policy and holds what the requests it let in hold: the
// open requests per client and per path, each client's rate bucket, and
// the refusal counts. Those are live state and outlive a Policy: SetPolicy
// (a reload) changes what the rules say, never who is counted, so the old
// viewers keep counting against the new limits and no bucket is refilled.
// It is safe for concurrent use.
type Guard struct {
	policy  atomic.Pointer[Policy]
	rates   rates
	conns   gauge[netip.Addr] // every client with an address, limited or not
	viewers gauge[string]     // every play path, limited or not
	http    *http.Client
	now     func() time.Time

	playRefused, publishRefused counters
}

// Policy is a Config checked and compiled: what the rules say, and nothing
// that counts. It is immutable; Guard.SetPolicy puts one in force.
type Policy struct {
	scopes  []*scope // longest prefix first; the last is "/"
	publish map[string]*publishRule
	proxies Proxies
	exempt  Proxies
	// geo is released when no Policy refers to it any more (the reader
	// unmaps its file when collected), so that a replaced Policy may still
	// judge the requests it began.
	geo    *CountryDB
	limits Limits
	log    Warner
}

// scope is a Scope with what it inherits filled in, checked and normalized.
type scope struct {
	prefix     string
	token      *TokenRule
	referer    *RefererRule
	agent      *AgentRule
	ip         *IPRule
	country    *CountryRule
	callback   *Callback
	maxViewers int
}

// NewPolicy checks cfg and compiles it. A Policy that names a country
// database keeps it open until the Policy is no longer referred to.
func NewPolicy(cfg Config) (*Policy, error) {
	if err := cfg.Limits.Check(); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	p := &Policy{limits: cfg.Limits, log: cfg.Log}
	nets, err := checkIPRule(&IPRule{Allow: cfg.Proxies, Deny: cfg.Exempt})
	if err != nil {
		return nil, fmt.Errorf("auth: proxies or exempt clients: %w", err)
	}
	p.proxies, p.exempt = nets.Allow, nets.Deny
	needGeo, err := p.compileScopes(cfg.Play)
	if err != nil {
		return nil, err
	}
	if p.publish, err = compilePublish(cfg.Publish); err != nil {
		return nil, err
	}
	if needGeo {
		if cfg.CountryDB == "" {
			return nil, errors.New("auth: country rules need a country database")
		}
		if p.geo, err = OpenCountryDB(cfg.CountryDB); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// NeedsToken reports whether playing path (as the guard sees it after an
// in-path token: /live/x.flv) needs a signed URL under the Policy in force,
// so that what lists streams publicly can leave such paths out.
func (g *Guard) NeedsToken(path string) bool {
	return g.policy.Load().scopeFor(path).token.Required()
}

// New checks cfg and returns a Guard for it. Close it when done.
func New(cfg Config) (*Guard, error) {
	p, err := NewPolicy(cfg)
	if err != nil {
		return nil, err
	}
	return NewGuard(p), nil
}

// NewGuard returns a Guard that enforces p, with nothing counted yet.
func NewGuard(p *Policy) *Guard {
	g := &Guard{http: newCallbackClient(), now: time.Now}
	g.SetPolicy(p)
	return g
}

// SetPolicy puts p in force for the requests that start from now on; those
// already admitted stay counted. A changed rate or burst applies to every
// client's bucket from now on, with the tokens the bucket holds.
func (g *Guard) SetPolicy(p *Policy) {
	g.rates.setLimits(p.limits, g.now())
	g.policy.Store(p)
}

// Close releases the callbacks' idle connections and the country database
// of the Policy in force.
func (g *Guard) Close() error {
	g.http.CloseIdleConnections()
	if geo := g.policy.Load().geo; geo != nil {
		return geo.Close()
	}
	return nil
}

// Refusals returns how many play requests and publish requests were refused
// so far, by reason; every Reason is present.
func (g *Guard) Refusals() (play, publish map[Reason]uint64) {
	return g.playRefused.snapshot(), g.publishRefused.snapshot()
}

func (p *Policy) compileScopes(in []Scope) (needGeo bool, err error) {
	byLen := slices.Clone(in)
	if !slices.ContainsFunc(byLen, func(s Scope) bool { return s.Prefix == "/" }) {
		byLen = append(byLen, Scope{Prefix: "/"})
	}
	slices.SortStableFunc(byLen, func(a, b Scope) int { return len(a.Prefix) - len(b.Prefix) })
	for i, s := range byLen {
		if i > 0 && byLen[i-1].Prefix == s.Prefix {
			return false, fmt.Errorf("auth: play prefix %q given twice", s.Prefix)
		}
		if err := checkScope(&byLen[i]); err != nil {
			return false, fmt.Errorf("auth: %w", err)
		}
		needGeo = needGeo || s.Country != nil && len(s.Country.Allow)+len(s.Country.Deny) > 0
	}
	// Shorter prefixes come first, so overlaying every matching one in
	// order leaves the most specific part on top.
	for _, s := range byLen {
		eff := &scope{prefix: s.Prefix}
		for _, p := range byLen {
			if strings.HasPrefix(s.Prefix, p.Prefix) {
				eff.overlay(p)
			}
		}
		eff.maxViewers = max(eff.maxViewers, 0)
		p.scopes = append(p.scopes, eff)
	}
	slices.Reverse(p.scopes)
	return needGeo, nil
}

func (s *scope) overlay(p Scope) {
	if p.Token != nil {
		s.token = p.Token
	}
	if p.Referer != nil {
		s.referer = p.Referer
	}
	if p.Agent != nil {
		s.agent = p.Agent
	}
	if p.IP != nil {
		s.ip = p.IP
	}
	if p.Country != nil {
		s.country = p.Country
	}
	if p.Callback != nil {
		s.callback = p.Callback
	}
	if p.MaxViewers != 0 {
		s.maxViewers = p.MaxViewers
	}
}

// checkScope checks s and replaces its rules by normalized copies, so that
// the caller's Config is neither trusted nor changed later.
func checkScope(s *Scope) error {
	if err := checkPrefix(s.Prefix); err != nil {
		return err
	}
	if err := s.checkRules(); err != nil {
		return fmt.Errorf("play prefix %q: %w", s.Prefix, err)
	}
	return nil
}

func (s *Scope) checkRules() error {
	if s.Token != nil {
		t, err := checkToken(s.Token)
		if err != nil {
			return err
		}
		s.Token = t
	}
	if s.Referer != nil {
		allow, err := normalizeHosts(s.Referer.Allow)
		if err != nil {
			return err
		}
		deny, err := normalizeHosts(s.Referer.Deny)
		if err != nil {
			return err
		}
		s.Referer = &RefererRule{Allow: allow, Deny: deny, AllowEmpty: s.Referer.AllowEmpty}
	}
	if s.Agent != nil {
		if slices.Contains(s.Agent.Allow, nil) || slices.Contains(s.Agent.Deny, nil) {
			return errors.New("user-agent: nil pattern")
		}
		s.Agent = &AgentRule{Allow: slices.Clone(s.Agent.Allow), Deny: slices.Clone(s.Agent.Deny)}
	}
	if s.IP != nil {
		ip, err := checkIPRule(s.IP)
		if err != nil {
			return err
		}
		s.IP = ip
	}
	if s.Country != nil {
		allow, err := normalizeCountries(s.Country.Allow)
		if err != nil {
			return err
		}
		deny, err := normalizeCountries(s.Country.Deny)
		if err != nil {
			return err
		}
		s.Country = &CountryRule{Allow: allow, Deny: deny}
	}
	if s.Callback != nil {
		if err := checkCallback(s.Callback); err != nil {
			return err
		}
		cb := *s.Callback
		s.Callback = &cb
	}
	return nil
}

func checkToken(t *TokenRule) (*TokenRule, error) {
	if t.Scheme > HMACSHA256 {
		return nil, fmt.Errorf("token: unknown scheme %d", t.Scheme)
	}
	if t.Bind > Bind16 {
		return nil, fmt.Errorf("token: unknown IP binding %d", t.Bind)
	}
	if slices.Contains(t.Secrets, "") {
		return nil, errors.New("token: empty secret")
	}
	return &TokenRule{Scheme: t.Scheme, Secrets: slices.Clone(t.Secrets), Bind: t.Bind}, nil
}

func checkIPRule(r *IPRule) (*IPRule, error) {
	out := &IPRule{}
	for _, list := range []struct {
		in  []netip.Prefix
		out *[]netip.Prefix
	}{{r.Allow, &out.Allow}, {r.Deny, &out.Deny}} {
		for _, p := range list.in {
			if !p.IsValid() {
				return nil, fmt.Errorf("ip: invalid prefix %v", p)
			}
			// Clients are compared unmapped and without zones.
			a := p.Addr().Unmap().WithZone("")
			bits := p.Bits()
			if p.Addr().Is4In6() {
				bits -= 96
			}
			if bits < 0 {
				return nil, fmt.Errorf("ip: %v holds more than IPv4-mapped addresses", p)
			}
			*list.out = append(*list.out, netip.PrefixFrom(a, bits).Masked())
		}
	}
	return out, nil
}

// scopeFor returns the rules of path.
func (p *Policy) scopeFor(path string) *scope {
	for _, s := range p.scopes {
		if strings.HasPrefix(path, s.prefix) {
			return s
		}
	}
	return p.scopes[len(p.scopes)-1] // "/", for a path without a leading slash
}
