package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/auth"
)

// The examples of default.yaml's access section, uncommented.
const accessExample = `
access:
  trusted_proxies: [10.0.0.0/8, 192.0.2.1]
  exempt: [10.1.0.0/16]
  secure_token_secrets: [flag-secret]
  limits: {max_connections: 4, rate: 5, burst: 10}
  play:
    - path: /
      token: {scheme: md5, secrets: [s3cret], bind_ip: none}
    - path: /live/
      referer: {allow: [example.com, "*.example.com"], deny: [], empty: allow}
      user_agent: {allow: [], deny: ["(?i)bot"]}
      ip: {allow: [], deny: [198.51.100.0/24]}
      callback: {url: "http://auth.internal/play", timeout: 3s}
      max_viewers: 1000
    - path: /vod/
      token: {scheme: hmac-sha256, secrets: [new, old], bind_ip: /24}
    - path: /free/
      token: {scheme: none}
  publish:
    - app: live
      keys: [KEY]
      stream_keys: {cam1: [KEY1]}
      token: {scheme: md5, secrets: [s3cret], bind_ip: none}
      callback: {url: "http://auth.internal/publish", timeout: 3s}
      ip: {allow: [10.0.0.0/8], deny: []}
`

func TestAccessExample(t *testing.T) {
	c, err := Load(write(t, accessExample))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Access.Auth()
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Proxies) != 2 || a.Proxies[1] != netip.MustParsePrefix("192.0.2.1/32") || len(a.Exempt) != 1 {
		t.Errorf("proxies %v, exempt %v", a.Proxies, a.Exempt)
	}
	if a.Limits != (auth.Limits{MaxConnsPerClient: 4, Rate: 5, Burst: 10, MaxClients: 65536}) {
		t.Errorf("limits %+v", a.Limits)
	}
	// secure_token_secrets (or --secure-token-secret) replace the root
	// rule; other paths keep theirs.
	rule, _ := a.PlayToken("/live/x.flv")
	if rule == nil || rule.Secrets[0] != "flag-secret" || rule.Scheme != auth.MD5 {
		t.Errorf("/live/: %+v", rule)
	}
	rule, _ = a.PlayToken("/vod/a.mp4")
	if rule == nil || rule.Scheme != auth.HMACSHA256 || rule.Bind != auth.Bind24 || len(rule.Secrets) != 2 {
		t.Errorf("/vod/: %+v", rule)
	}
	if rule, _ = a.PlayToken("/free/x.flv"); rule != nil {
		t.Errorf("/free/: %+v", rule)
	}
	live := a.Play[1]
	if live.Prefix != "/live/" || !live.Referer.AllowEmpty || len(live.Agent.Deny) != 1 || live.MaxViewers != 1000 ||
		live.Callback.Timeout != 3*time.Second || live.IP.Deny[0] != netip.MustParsePrefix("198.51.100.0/24") {
		t.Errorf("/live/ rule %+v", live)
	}
	pub := a.Publish[0]
	if pub.App != "live" || pub.Keys[0] != "KEY" || pub.StreamKeys["cam1"][0] != "KEY1" || pub.Token == nil || pub.IP.Allow[0].Bits() != 8 {
		t.Errorf("publish rule %+v", pub)
	}
}

func TestAccessDefaultsOpen(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Access.Auth()
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Play)+len(a.Publish) != 0 || a.Limits.Rate != 0 || a.Limits.MaxConnsPerClient != 0 {
		t.Fatalf("defaults restrict: %+v", a)
	}
}

func TestAccessErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"access:\n  trusted_proxies: [10.0.0.0/33]\n", "access.trusted_proxies"},
		{"access:\n  exempt: [edge-1]\n", "access.exempt"},
		{"access:\n  play:\n    - path: live/\n", `line 3: access.play[0]: play prefix "live/" must start with /`},
		{"access:\n  play:\n    - path: /\n      token: {scheme: sha1, secrets: [x]}\n", "access.play[0].token.scheme"},
		{"access:\n  play:\n    - path: /\n      token: {scheme: md5, secrets: [x], bind_ip: /8}\n", "access.play[0].token.bind_ip"},
		{"access:\n  play:\n    - path: /\n      token: {scheme: md5}\n", "access.play[0].token.secrets"},
		{"access:\n  play:\n    - path: /\n      token: {scheme: none, secrets: [x]}\n", "scheme none takes no secrets"},
		{"access:\n  play:\n    - path: /\n    - path: /live/\n      referer: {empty: maybe}\n", "access.play[1].referer.empty"},
		{"access:\n  play:\n    - path: /\n      user_agent: {deny: [\"(\"]}\n", "access.play[0].user_agent.deny"},
		{"access:\n  play:\n    - path: /\n      ip: {allow: [x]}\n", "access.play[0].ip.allow"},
		{"access:\n  play:\n    - path: /\n      referer: {allow: [\"https://a.example/\"]}\n", "no host"},
		{"access:\n  play:\n    - path: /\n      country: {deny: [Narnia]}\n", "ISO 3166"},
		{"access:\n  play:\n    - path: /\n      country: {deny: [DE]}\n", "country database"},
		{"access:\n  country_db: /nonexistent/db.mmdb\n  play:\n    - path: /\n      country: {deny: [DE]}\n", "nonexistent"},
		{"access:\n  play:\n    - path: /\n    - path: /\n", "twice"},
		{"access:\n  play:\n    - path: /\n      callback: {url: auth.internal}\n", "callback URL"},
		{"access:\n  play:\n    - path: /\n      tokn: {}\n", "field tokn not found"},
		{"access:\n  publish:\n    - keys: [k]\n", "line 3: access.publish[0]: publish rule without an app"},
		{"access:\n  publish:\n    - app: live\n      keys: [\"\"]\n", "empty publish key"},
		{"access:\n  publish:\n    - app: live\n      ip: {deny: [300.0.0.1]}\n", "access.publish[0].ip.deny"},
		{"access:\n  limits: {rate: -1}\n", "negative"},
	} {
		_, err := Load(write(t, tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.file, err, tc.want)
		}
	}
}
