package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"

	"github.com/flvedge/flvedge/auth"
)

// Access is who may play and who may publish: the access section, turned
// into an auth.Config by Auth.
type Access struct {
	TrustedProxies     []string        `yaml:"trusted_proxies"`
	Exempt             []string        `yaml:"exempt"`
	CountryDB          string          `yaml:"country_db"`
	SecureTokenSecrets []string        `yaml:"secure_token_secrets"`
	Limits             AccessLimits    `yaml:"limits"`
	Play               []AccessPlay    `yaml:"play"`
	Publish            []AccessPublish `yaml:"publish"`
}

type AccessLimits struct {
	MaxConnections int     `yaml:"max_connections"`
	Rate           float64 `yaml:"rate"`
	Burst          int     `yaml:"burst"`
	MaxClients     int     `yaml:"max_clients"`
}

type AccessPlay struct {
	Path       string          `yaml:"path"`
	Token      *AccessToken    `yaml:"token"`
	Referer    *AccessReferer  `yaml:"referer"`
	UserAgent  *AccessList     `yaml:"user_agent"`
	IP         *AccessList     `yaml:"ip"`
	Country    *AccessList     `yaml:"country"`
	Callback   *AccessCallback `yaml:"callback"`
	MaxViewers int             `yaml:"max_viewers"`
}

type AccessPublish struct {
	App        string              `yaml:"app"`
	Keys       []string            `yaml:"keys"`
	StreamKeys map[string][]string `yaml:"stream_keys"`
	Token      *AccessToken        `yaml:"token"`
	Callback   *AccessCallback     `yaml:"callback"`
	IP         *AccessList         `yaml:"ip"`
}

type AccessToken struct {
	Scheme  string   `yaml:"scheme"`
	Secrets []string `yaml:"secrets"`
	BindIP  string   `yaml:"bind_ip"`
}

type AccessReferer struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	Empty string   `yaml:"empty"`
}

type AccessList struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

type AccessCallback struct {
	URL     string        `yaml:"url"`
	Timeout time.Duration `yaml:"timeout"`
}

// Auth returns the auth.Config the section describes, or the first thing
// wrong with it, at its key: what auth refuses of one rule, and what does
// not read. Log is left for the caller to set.
func (a Access) Auth() (auth.Config, error) {
	var c auth.Config
	var err error
	if c.Proxies, err = prefixes(a.TrustedProxies, "access", "trusted_proxies"); err != nil {
		return c, err
	}
	if c.Exempt, err = prefixes(a.Exempt, "access", "exempt"); err != nil {
		return c, err
	}
	c.CountryDB = a.CountryDB
	c.Limits = auth.Limits{MaxConnsPerClient: a.Limits.MaxConnections, Rate: a.Limits.Rate, Burst: a.Limits.Burst, MaxClients: a.Limits.MaxClients}
	if err := c.Limits.Check(); err != nil {
		return c, at(err, "access", "limits")
	}
	for i, p := range a.Play {
		s, err := p.scope("access", "play", i)
		if err != nil {
			return c, err
		}
		if err := s.Check(); err != nil {
			return c, at(err, "access", "play", i)
		}
		c.Play = append(c.Play, s)
	}
	for i, p := range a.Publish {
		r, err := p.rule("access", "publish", i)
		if err != nil {
			return c, err
		}
		if err := r.Check(); err != nil {
			return c, at(err, "access", "publish", i)
		}
		c.Publish = append(c.Publish, r)
	}
	if len(a.SecureTokenSecrets) > 0 {
		root := auth.TokenRule{Scheme: auth.MD5, Secrets: a.SecureTokenSecrets}
		if err := (auth.Scope{Prefix: "/", Token: &root}).Check(); err != nil {
			return c, at(err, "access", "secure_token_secrets")
		}
		c.SetRootToken(root)
	}
	return c, nil
}

// check finds what Auth finds, and what only building the rules does: a
// prefix given twice, a country database that cannot be opened.
func (a Access) check() error {
	c, err := a.Auth()
	if err != nil {
		return err
	}
	_, err = auth.NewPolicy(c)
	return at(err, "access")
}

// with is path and more after it, in a slice of its own.
func with(path []any, more ...any) []any {
	return append(slices.Clip(path), more...)
}

func (p AccessPlay) scope(path ...any) (auth.Scope, error) {
	s := auth.Scope{Prefix: p.Path, MaxViewers: p.MaxViewers}
	var err error
	if p.Token != nil {
		if s.Token, err = p.Token.rule(with(path, "token")...); err != nil {
			return s, err
		}
	}
	if p.Referer != nil {
		r := &auth.RefererRule{Allow: p.Referer.Allow, Deny: p.Referer.Deny}
		switch p.Referer.Empty {
		case "", "allow":
			r.AllowEmpty = true
		case "deny":
		default:
			return s, at(fmt.Errorf("%q is neither allow nor deny", p.Referer.Empty), with(path, "referer", "empty")...)
		}
		s.Referer = r
	}
	if p.UserAgent != nil {
		s.Agent = &auth.AgentRule{}
		if s.Agent.Allow, err = patterns(p.UserAgent.Allow, with(path, "user_agent", "allow")...); err != nil {
			return s, err
		}
		if s.Agent.Deny, err = patterns(p.UserAgent.Deny, with(path, "user_agent", "deny")...); err != nil {
			return s, err
		}
	}
	if p.IP != nil {
		if s.IP, err = p.IP.ipRule(with(path, "ip")...); err != nil {
			return s, err
		}
	}
	if p.Country != nil {
		s.Country = &auth.CountryRule{Allow: p.Country.Allow, Deny: p.Country.Deny}
	}
	if p.Callback != nil {
		s.Callback = &auth.Callback{URL: p.Callback.URL, Timeout: p.Callback.Timeout}
	}
	return s, nil
}

func (p AccessPublish) rule(path ...any) (auth.PublishRule, error) {
	r := auth.PublishRule{App: p.App, Keys: p.Keys, StreamKeys: p.StreamKeys}
	var err error
	if p.Token != nil {
		if r.Token, err = p.Token.rule(with(path, "token")...); err != nil {
			return r, err
		}
	}
	if p.Callback != nil {
		r.Callback = &auth.Callback{URL: p.Callback.URL, Timeout: p.Callback.Timeout}
	}
	if p.IP != nil {
		if r.IP, err = p.IP.ipRule(with(path, "ip")...); err != nil {
			return r, err
		}
	}
	return r, nil
}

// rule reads a token section. scheme: none is the file's way to lift an
// inherited token, which auth spells as a TokenRule without secrets; any
// other scheme without secrets is a mistake.
func (t AccessToken) rule(path ...any) (*auth.TokenRule, error) {
	if t.Scheme == "none" {
		if len(t.Secrets) > 0 {
			return nil, at(errors.New("scheme none takes no secrets"), with(path, "secrets")...)
		}
		return &auth.TokenRule{}, nil
	}
	scheme, err := auth.ParseScheme(t.Scheme)
	if err != nil {
		return nil, at(err, with(path, "scheme")...)
	}
	bind, err := auth.ParseBinding(t.BindIP)
	if err != nil {
		return nil, at(err, with(path, "bind_ip")...)
	}
	if len(t.Secrets) == 0 {
		return nil, at(errors.New("at least one (or scheme: none for no token)"), with(path, "secrets")...)
	}
	return &auth.TokenRule{Scheme: scheme, Secrets: t.Secrets, Bind: bind}, nil
}

func (l AccessList) ipRule(path ...any) (*auth.IPRule, error) {
	allow, err := prefixes(l.Allow, with(path, "allow")...)
	if err != nil {
		return nil, err
	}
	deny, err := prefixes(l.Deny, with(path, "deny")...)
	if err != nil {
		return nil, err
	}
	return &auth.IPRule{Allow: allow, Deny: deny}, nil
}

// prefixes reads addresses and networks: "10.0.0.0/8", "2001:db8::/32",
// "192.0.2.7".
func prefixes(list []string, path ...any) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, at(fmt.Errorf("%q is no address or network such as 10.0.0.0/8", s), with(path, i)...)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

func patterns(list []string, path ...any) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for i, s := range list {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, at(err, with(path, i)...)
		}
		out = append(out, re)
	}
	return out, nil
}
