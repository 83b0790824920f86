package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds Verify what clients send. Besides never panicking, a
// token that passes must be the one Sign makes for the path, its folder or
// its Smooth Streaming presentation: nothing else can be accepted.
func FuzzVerify(f *testing.F) {
	f.Add("9iAuffAIMgXPEDKLrDyVUA", "2000000000", "/live/x.flv", "")
	f.Add("1MDBCH5671s8h0FjJeWizg==", "2000000000", "/live/x.flv", "203.0.113.7")
	f.Add("vl9ZSoiTYSObQSKp77RHdA", "2000000000", "/live/", "::ffff:203.0.113.7")
	f.Add("sdBNhmX54zxSnY8vTkhh5A", "2000000000", "/vod/film.ism/QualityLevels(1)/Fragments(video=0)", "")
	f.Add("", "", "", "")
	f.Add("%%%", "-1", "x", "not an address")
	rules := []TokenRule{
		{Secrets: []string{"s3cret"}},
		{Secrets: []string{"s3cret", "old"}, Bind: BindExact},
		{Scheme: HMACSHA256, Secrets: []string{"s3cret"}, Bind: Bind24},
	}
	f.Fuzz(func(t *testing.T, token, expires, path, client string) {
		ip, _ := netip.ParseAddr(client)
		for _, rule := range rules {
			err := rule.Verify(token, expires, path, ip, time.Unix(1900000000, 0))
			if err != nil {
				if ReasonOf(err) == "" {
					t.Fatalf("error without a reason: %v", err)
				}
				continue
			}
			exp, _ := strconv.ParseInt(expires, 10, 64)
			if strconv.FormatInt(exp, 10) != expires {
				// Expiries that are not in canonical form cannot come from
				// Sign; check the signature by hand.
				continue
			}
			got, _ := rule.Scheme.decode(token)
			if !signedBy(rule, got, expires, path, ip) {
				t.Fatalf("%+v accepted token %q expires %q path %q client %v", rule, token, expires, path, ip)
			}
		}
	})
}

func signedBy(rule TokenRule, sum []byte, expires, path string, client netip.Addr) bool {
	bound, _ := rule.Bind.clientString(client)
	folder := path[:strings.LastIndexByte(path, '/')+1]
	for _, secret := range rule.Secrets {
		for _, p := range []string{path, folder, presentationFolder(path)} {
			if string(rule.Scheme.sum(secret, expires, p, bound)) == string(sum) {
				return true
			}
		}
	}
	return false
}

// FuzzSignVerify: whatever the path, expiry and client, a signed token
// passes until its expiry second is over and is refused as expired after.
func FuzzSignVerify(f *testing.F) {
	f.Add("/live/x.flv", int64(2000000000), "203.0.113.7", uint8(0), uint8(1))
	f.Add("/vod/a b/ü.mp4", int64(1), "2001:db8::1", uint8(1), uint8(2))
	f.Add("/live/", int64(9223372036854775807), "", uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, path string, expires int64, client string, scheme, bind uint8) {
		rule := TokenRule{Scheme: Scheme(scheme % 2), Secrets: []string{"s3cret"}, Bind: Binding(bind % 4)}
		ip, _ := netip.ParseAddr(client)
		s, err := rule.Sign(path, time.Unix(expires, 0), ip)
		if err != nil {
			return
		}
		if err := rule.Verify(s.Token, s.Expires, path, ip, time.Unix(expires, 0)); err != nil {
			t.Fatalf("%+v: own token for %q refused: %v", rule, path, err)
		}
		if expires < 1<<62 {
			if err := rule.Verify(s.Token, s.Expires, path, ip, time.Unix(expires+1, 0)); !errors.Is(err, TokenExpired) {
				t.Fatalf("%+v: a second after expiry: %v", rule, err)
			}
		}
		if len(s.Token) != rule.Scheme.encodedLen() {
			t.Fatalf("token %q has length %d", s.Token, len(s.Token))
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(s.Token); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzPlayRequest runs a whole play request, path and query as a client
// may send them, through a Guard with every rule: it must answer with a
// refusal that has a status, or pass a path that starts with "/".
func FuzzPlayRequest(f *testing.F) {
	f.Add("/live/x.flv", "md5=9iAuffAIMgXPEDKLrDyVUA&expires=2000000000", "https://player.example/", "192.0.2.1, 10.0.0.1")
	f.Add("/9iAuffAIMgXPEDKLrDyVUA/2000000000/live/x.flv", "", "", "")
	f.Add("/d1dY1eNY5vy51peYRivJxHoWXvxv6e6qaybOynT_hLU/1/x", "md5=&md5=x", "::", "[::1]:80,,")
	f.Add("", ";;&&==%zz", "\x00", "unknown")
	g, err := New(Config{
		Proxies: Proxies{netip.MustParsePrefix("10.0.0.0/8")},
		Play: []Scope{
			{Prefix: "/", Token: &TokenRule{Secrets: []string{"s3cret"}, Bind: Bind24}, MaxViewers: 3},
			{Prefix: "/live/", Token: &TokenRule{Secrets: []string{"s3cret"}},
				Referer: &RefererRule{Allow: []string{"*.example", "player.example"}, AllowEmpty: true},
				IP:      &IPRule{Deny: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}},
		},
		Limits: Limits{MaxConnsPerClient: 2, Rate: 1000, Burst: 1000, MaxClients: 16},
	})
	if err != nil {
		f.Fatal(err)
	}
	defer g.Close()
	g.now = func() time.Time { return time.Unix(1900000000, 0) }
	f.Fuzz(func(t *testing.T, path, rawQuery, referer, forwarded string) {
		r := &http.Request{
			Method:     http.MethodGet,
			URL:        &url.URL{Path: path, RawQuery: rawQuery},
			Header:     http.Header{"Referer": {referer}, "X-Forwarded-For": {forwarded}},
			RemoteAddr: "10.0.0.1:1234",
		}
		passed, release, err := g.admit(g.policy.Load(), r.WithContext(t.Context()), g.Client(r))
		if err != nil {
			if ReasonOf(err).Status() < 400 {
				t.Fatalf("refused without a status: %v", err)
			}
			return
		}
		release()
		if !strings.HasPrefix(passed.URL.Path, "/") {
			t.Fatalf("passed on path %q", passed.URL.Path)
		}
	})
}

// FuzzClient: whatever X-Forwarded-For says, a peer that is not a trusted
// proxy is the client, and a trusted one never yields an address written
// nowhere.
func FuzzClient(f *testing.F) {
	f.Add("10.0.0.1:80", "192.0.2.1, 10.0.0.2")
	f.Add("10.0.0.1:80", "[2001:db8::1]:443,unknown,,")
	f.Add("192.0.2.9:1", "10.0.0.1")
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:192.0.2.1")
	f.Add("@", "")
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	f.Fuzz(func(t *testing.T, remote, forwarded string) {
		peer := ParseAddr(remote)
		got := proxies.Client(remote, []string{forwarded})
		if !proxies.trusts(peer) {
			if got != peer {
				t.Fatalf("untrusted peer %v, client %v", peer, got)
			}
			return
		}
		if got == peer {
			return
		}
		found := false
		for entry := range strings.SplitSeq(forwarded, ",") {
			if ParseAddr(strings.TrimSpace(entry)) == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("client %v is in neither %q nor %q", got, remote, forwarded)
		}
	})
}
