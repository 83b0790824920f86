package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
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
// wrong with it, named by its key. Log is left for the caller to set.
func (a Access) Auth() (auth.Config, error) {
	var c auth.Config
	var err error
	if c.Proxies, err = prefixes("access.trusted_proxies", a.TrustedProxies); err != nil {
		return c, err
	}
	if c.Exempt, err = prefixes("access.exempt", a.Exempt); err != nil {
		return c, err
	}
	c.CountryDB = a.CountryDB
	c.Limits = auth.Limits{MaxConnsPerClient: a.Limits.MaxConnections, Rate: a.Limits.Rate, Burst: a.Limits.Burst, MaxClients: a.Limits.MaxClients}
	for i, p := range a.Play {
		key := fmt.Sprintf("access.play[%d]", i)
		s, err := p.scope(key)
		if err != nil {
			return c, err
		}
		c.Play = append(c.Play, s)
	}
	for i, p := range a.Publish {
		key := fmt.Sprintf("access.publish[%d]", i)
		r, err := p.rule(key)
		if err != nil {
			return c, err
		}
		c.Publish = append(c.Publish, r)
	}
	if len(a.SecureTokenSecrets) > 0 {
		c.SetRootToken(auth.TokenRule{Scheme: auth.MD5, Secrets: a.SecureTokenSecrets})
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
	if _, err := auth.NewPolicy(c); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	return nil
}

func (p AccessPlay) scope(key string) (auth.Scope, error) {
	s := auth.Scope{Prefix: p.Path, MaxViewers: p.MaxViewers}
	if !strings.HasPrefix(p.Path, "/") {
		return s, fmt.Errorf("%s.path: %q must start with /, e.g. /live/", key, p.Path)
	}
	var err error
	if p.Token != nil {
		if s.Token, err = p.Token.rule(key + ".token"); err != nil {
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
			return s, fmt.Errorf("%s.referer.empty: %q is neither allow nor deny", key, p.Referer.Empty)
		}
		s.Referer = r
	}
	if p.UserAgent != nil {
		s.Agent = &auth.AgentRule{}
		if s.Agent.Allow, err = patterns(key+".user_agent.allow", p.UserAgent.Allow); err != nil {
			return s, err
		}
		if s.Agent.Deny, err = patterns(key+".user_agent.deny", p.UserAgent.Deny); err != nil {
			return s, err
		}
	}
	if p.IP != nil {
		if s.IP, err = p.IP.ipRule(key + ".ip"); err != nil {
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

func (p AccessPublish) rule(key string) (auth.PublishRule, error) {
	r := auth.PublishRule{App: p.App, Keys: p.Keys, StreamKeys: p.StreamKeys}
	if p.App == "" {
		return r, fmt.Errorf(`%s.app: missing (an app such as live, or "*" for every other app)`, key)
	}
	var err error
	if p.Token != nil {
		if r.Token, err = p.Token.rule(key + ".token"); err != nil {
			return r, err
		}
	}
	if p.Callback != nil {
		r.Callback = &auth.Callback{URL: p.Callback.URL, Timeout: p.Callback.Timeout}
	}
	if p.IP != nil {
		if r.IP, err = p.IP.ipRule(key + ".ip"); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (t AccessToken) rule(key string) (*auth.TokenRule, error) {
	if t.Scheme == "none" {
		if len(t.Secrets) > 0 {
			return nil, fmt.Errorf("%s: scheme none takes no secrets", key)
		}
		return &auth.TokenRule{}, nil
	}
	scheme, err := auth.ParseScheme(t.Scheme)
	if err != nil {
		return nil, fmt.Errorf("%s.scheme: %w", key, err)
	}
	bind, err := auth.ParseBinding(t.BindIP)
	if err != nil {
		return nil, fmt.Errorf("%s.bind_ip: %w", key, err)
	}
	if len(t.Secrets) == 0 {
		return nil, fmt.Errorf("%s.secrets: at least one (or scheme: none for no token)", key)
	}
	return &auth.TokenRule{Scheme: scheme, Secrets: t.Secrets, Bind: bind}, nil
}

func (l AccessList) ipRule(key string) (*auth.IPRule, error) {
	allow, err := prefixes(key+".allow", l.Allow)
	if err != nil {
		return nil, err
	}
	deny, err := prefixes(key+".deny", l.Deny)
	if err != nil {
		return nil, err
	}
	return &auth.IPRule{Allow: allow, Deny: deny}, nil
}

// prefixes reads addresses and networks: "10.0.0.0/8", "2001:db8::/32",
// "192.0.2.7".
func prefixes(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is no address or network such as 10.0.0.0/8", key, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

func patterns(key string, list []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range list {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, re)
	}
	return out, nil
}
