package auth

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The expected tokens below were computed outside Go, with
//
//	printf '%s' "$STRING" | openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =
//
// for MD5, STRING being "{expires}{path}{client} {secret}", and
//
//	printf '%s' "$STRING" | openssl dgst -sha256 -hmac "$SECRET" -binary | openssl base64 -A | tr +/ -_ | tr -d =
//
// for HMAC-SHA256, STRING being "{expires}{path}{client}".
var tokenFixtures = []struct {
	name    string
	rule    TokenRule
	path    string
	expires int64
	client  string
	want    string
}{
	// The example of the nginx secure_link documentation: the same bytes.
	{"nginx example", TokenRule{Secrets: []string{"secret"}, Bind: BindExact}, "/s/link", 2147483647, "127.0.0.1", "_e4Nc3iduzkWRm01TBBNYw"},
	{"md5 unbound", TokenRule{Secrets: []string{"s3cret"}}, "/live/x.flv", 2000000000, "", "9iAuffAIMgXPEDKLrDyVUA"},
	{"md5 exact", TokenRule{Secrets: []string{"s3cret"}, Bind: BindExact}, "/live/x.flv", 2000000000, "203.0.113.7", "1MDBCH5671s8h0FjJeWizg"},
	{"md5 /24", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind24}, "/live/x.flv", 2000000000, "203.0.113.7", "QolTY5-zDazC_F_t_DuRhw"},
	{"md5 /16", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind16}, "/live/x.flv", 2000000000, "203.0.113.7", "z2u1LNwvLop-qn3NktE11Q"},
	{"md5 folder", TokenRule{Secrets: []string{"s3cret"}}, "/live/", 2000000000, "", "vl9ZSoiTYSObQSKp77RHdA"},
	{"md5 second secret signs when first", TokenRule{Secrets: []string{"old-secret", "s3cret"}}, "/live/x.flv", 2000000000, "", "vNv53pZOPdW_TJBS9XWksg"},
	{"md5 IPv6 exact", TokenRule{Secrets: []string{"s3cret"}, Bind: BindExact}, "/live/x.flv", 2000000000, "2001:db8::7", "KdMmBrjj_VUa2yr8FQlfOQ"},
	{"md5 IPv6 /64", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind24}, "/live/x.flv", 2000000000, "2001:db8:1:2:aaaa::1", "WQFU-45Yn0yV05fQtDec4g"},
	{"md5 IPv4-mapped is IPv4", TokenRule{Secrets: []string{"s3cret"}, Bind: BindExact}, "/live/x.flv", 2000000000, "::ffff:203.0.113.7", "1MDBCH5671s8h0FjJeWizg"},
	{"md5 vod", TokenRule{Secrets: []string{"s3cret"}}, "/vod/a.mp4", 2000000000, "", "12KV1Ti_DKuMLSvXM9f93w"},
	{"hmac unbound", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}, "/live/x.flv", 2000000000, "", "d1dY1eNY5vy51peYRivJxHoWXvxv6e6qaybOynT_hLU"},
	{"hmac exact", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}, Bind: BindExact}, "/live/x.flv", 2000000000, "203.0.113.7", "nCilA4ymBUWAJXw4OA630f_5r5Rdj5DZzUEcKEoIl9c"},
	{"hmac folder", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}, "/live/", 2000000000, "", "njIHZqnIQHdFaGPCETHPEQ1Aupc5Kx7hfSTHlZsA3_k"},
}

func addr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestSignMatchesIndependentHashes(t *testing.T) {
	for _, f := range tokenFixtures {
		t.Run(f.name, func(t *testing.T) {
			s, err := f.rule.Sign(f.path, time.Unix(f.expires, 0), addr(f.client))
			if err != nil {
				t.Fatal(err)
			}
			if s.Token != f.want {
				t.Fatalf("token %s, want %s", s.Token, f.want)
			}
			if err := f.rule.Verify(f.want, s.Expires, f.path, addr(f.client), time.Unix(f.expires, 0)); err != nil {
				t.Fatalf("Verify of the fixture: %v", err)
			}
		})
	}
}

func TestSignedForms(t *testing.T) {
	rule := TokenRule{Secrets: []string{"s3cret"}}
	s, err := rule.Sign("/live/x.flv", time.Unix(2000000000, 0), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.URL(), "/live/x.flv?md5=9iAuffAIMgXPEDKLrDyVUA&expires=2000000000"; got != want {
		t.Errorf("URL %s, want %s", got, want)
	}
	if got, want := s.InPath(), "/9iAuffAIMgXPEDKLrDyVUA/2000000000/live/x.flv"; got != want {
		t.Errorf("InPath %s, want %s", got, want)
	}
	h := TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}
	s, _ = h.Sign("/live/a b.flv", time.Unix(2000000000, 0), netip.Addr{})
	if !strings.HasPrefix(s.URL(), "/live/a%20b.flv?hmac=") {
		t.Errorf("HMAC URL %s: want the path escaped and an hmac parameter", s.URL())
	}

	for _, bad := range []struct {
		rule   TokenRule
		path   string
		client string
	}{
		{TokenRule{}, "/live/x.flv", ""},
		{rule, "live/x.flv", ""},
		{TokenRule{Secrets: []string{"s"}, Bind: BindExact}, "/live/x.flv", ""},
	} {
		if _, err := bad.rule.Sign(bad.path, time.Unix(2000000000, 0), addr(bad.client)); err == nil {
			t.Errorf("Sign(%+v, %q, %q) did not fail", bad.rule, bad.path, bad.client)
		}
	}
}

func TestVerify(t *testing.T) {
	const (
		exp      = "2000000000"
		md5Token = "1MDBCH5671s8h0FjJeWizg" // "md5 exact" above
	)
	exact := TokenRule{Secrets: []string{"s3cret"}, Bind: BindExact}
	at := time.Unix(2000000000, 0)
	cases := []struct {
		name    string
		rule    TokenRule
		token   string
		expires string
		path    string
		client  string
		now     time.Time
		want    error
	}{
		{"valid", exact, md5Token, exp, "/live/x.flv", "203.0.113.7", at.Add(-time.Hour), nil},
		{"valid at the expiry second", exact, md5Token, exp, "/live/x.flv", "203.0.113.7", at.Add(999 * time.Millisecond), nil},
		{"expired one second later", exact, md5Token, exp, "/live/x.flv", "203.0.113.7", at.Add(time.Second), TokenExpired},
		{"padding tolerated", exact, md5Token + "==", exp, "/live/x.flv", "203.0.113.7", at, nil},
		{"missing", exact, "", "", "/live/x.flv", "203.0.113.7", at, TokenMissing},
		{"token without expiry", exact, md5Token, "", "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"expiry without token", exact, "", exp, "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"tampered token", exact, "1MDBCH5671s8h0GjJeWizg", exp, "/live/x.flv", "203.0.113.7", at, TokenInvalid},
		{"tampered token, last character's spare bits", exact, "1MDBCH5671s8h0FjJeWizh", exp, "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"tampered expiry", exact, md5Token, "2000000001", "/live/x.flv", "203.0.113.7", at, TokenInvalid},
		{"expiry with leading zero", exact, md5Token, "02000000000", "/live/x.flv", "203.0.113.7", at, TokenInvalid},
		{"tampered path", exact, md5Token, exp, "/live/y.flv", "203.0.113.7", at, TokenInvalid},
		{"path in a subfolder", exact, md5Token, exp, "/live/sub/x.flv", "203.0.113.7", at, TokenInvalid},
		{"wrong IP", exact, md5Token, exp, "/live/x.flv", "203.0.113.8", at, TokenInvalid},
		{"unknown IP", exact, md5Token, exp, "/live/x.flv", "", at, TokenInvalid},
		{"wrong secret", TokenRule{Secrets: []string{"other"}, Bind: BindExact}, md5Token, exp, "/live/x.flv", "203.0.113.7", at, TokenInvalid},
		{"wrong scheme", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}, Bind: BindExact}, md5Token, exp, "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"expired and tampered is invalid, not expired", exact, "1MDBCH5671s8h0GjJeWizg", exp, "/live/x.flv", "203.0.113.7", at.Add(time.Hour), TokenInvalid},
		{"standard base64 alphabet", exact, "1MDBCH5671s8h0FjJeWi+g", exp, "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"token too short", exact, md5Token[:21], exp, "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"token too long", exact, md5Token + "A", exp, "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"expiry with sign", exact, md5Token, "+2000000000", "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"expiry with space", exact, md5Token, " 2000000000", "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"expiry beyond int64", exact, md5Token, "99999999999999999999", "/live/x.flv", "203.0.113.7", at, TokenMalformed},
		{"expiry in hex", exact, md5Token, "0x77359400", "/live/x.flv", "203.0.113.7", at, TokenMalformed},

		{"rotation: old secret still valid", TokenRule{Secrets: []string{"new", "s3cret"}, Bind: BindExact}, md5Token, exp, "/live/x.flv", "203.0.113.7", at, nil},
		{"rotation: retired secret", TokenRule{Secrets: []string{"new", "newer"}, Bind: BindExact}, md5Token, exp, "/live/x.flv", "203.0.113.7", at, TokenInvalid},

		{"/24: same network", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind24}, "QolTY5-zDazC_F_t_DuRhw", exp, "/live/x.flv", "203.0.113.200", at, nil},
		{"/24: other network", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind24}, "QolTY5-zDazC_F_t_DuRhw", exp, "/live/x.flv", "203.0.114.7", at, TokenInvalid},
		{"/24 token under /16 rule", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind16}, "QolTY5-zDazC_F_t_DuRhw", exp, "/live/x.flv", "203.0.113.7", at, TokenInvalid},
		{"/16: same network", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind16}, "z2u1LNwvLop-qn3NktE11Q", exp, "/live/x.flv", "203.0.9.9", at, nil},
		{"/16: other network", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind16}, "z2u1LNwvLop-qn3NktE11Q", exp, "/live/x.flv", "203.1.113.7", at, TokenInvalid},
		{"IPv6 /64: same network", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind24}, "WQFU-45Yn0yV05fQtDec4g", exp, "/live/x.flv", "2001:db8:1:2::99", at, nil},
		{"IPv6 /64: other network", TokenRule{Secrets: []string{"s3cret"}, Bind: Bind24}, "WQFU-45Yn0yV05fQtDec4g", exp, "/live/x.flv", "2001:db8:1:3::99", at, TokenInvalid},

		{"folder token covers a file in it", TokenRule{Secrets: []string{"s3cret"}}, "vl9ZSoiTYSObQSKp77RHdA", exp, "/live/x.flv", "", at, nil},
		{"folder token covers the folder", TokenRule{Secrets: []string{"s3cret"}}, "vl9ZSoiTYSObQSKp77RHdA", exp, "/live/", "", at, nil},
		{"folder token, file in a subfolder", TokenRule{Secrets: []string{"s3cret"}}, "vl9ZSoiTYSObQSKp77RHdA", exp, "/live/sub/x.flv", "", at, TokenInvalid},
		{"folder token, other folder", TokenRule{Secrets: []string{"s3cret"}}, "vl9ZSoiTYSObQSKp77RHdA", exp, "/vod/x.flv", "", at, TokenInvalid},
		{"file token does not cover its folder", TokenRule{Secrets: []string{"s3cret"}}, "9iAuffAIMgXPEDKLrDyVUA", exp, "/live/", "", at, TokenInvalid},

		// A token for a Smooth Streaming presentation's folder covers its
		// manifest and its fragments, a level below, and nothing else.
		{"presentation token, manifest", TokenRule{Secrets: []string{"s3cret"}}, presentationToken, exp, "/vod/film.ism/Manifest", "", at, nil},
		{"presentation token, fragment", TokenRule{Secrets: []string{"s3cret"}}, presentationToken, exp, "/vod/film.ism/QualityLevels(500000)/Fragments(video=0)", "", at, nil},
		{"presentation token, other subfolder", TokenRule{Secrets: []string{"s3cret"}}, presentationToken, exp, "/vod/film.ism/sub/x.mp4", "", at, TokenInvalid},
		{"presentation token, deeper", TokenRule{Secrets: []string{"s3cret"}}, presentationToken, exp, "/vod/film.ism/a/QualityLevels(1)/Fragments(video=0)", "", at, TokenInvalid},
		{"presentation token, other presentation", TokenRule{Secrets: []string{"s3cret"}}, presentationToken, exp, "/vod/other.ism/QualityLevels(1)/Fragments(video=0)", "", at, TokenInvalid},

		{"hmac valid", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}, "d1dY1eNY5vy51peYRivJxHoWXvxv6e6qaybOynT_hLU", exp, "/live/x.flv", "", at, nil},
		{"hmac tampered", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}, "d1dY1eNY5vy51peYRivJxHoWXvxv6e6qaybOynT_hMU", exp, "/live/x.flv", "", at, TokenInvalid},
		{"hmac expired", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}, "d1dY1eNY5vy51peYRivJxHoWXvxv6e6qaybOynT_hLU", exp, "/live/x.flv", "", at.Add(time.Second), TokenExpired},
		{"hmac folder", TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}, "njIHZqnIQHdFaGPCETHPEQ1Aupc5Kx7hfSTHlZsA3_k", exp, "/live/x.flv", "", at, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.rule.Verify(c.token, c.expires, c.path, addr(c.client), c.now)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if ReasonOf(err) != c.want {
				t.Fatalf("ReasonOf: %q, want %q", ReasonOf(err), c.want)
			}
		})
	}
}

// TestVerifyEveryCharacter changes each character of a signed query in
// turn: none of them may still pass.
func TestVerifyEveryCharacter(t *testing.T) {
	rule := TokenRule{Secrets: []string{"s3cret"}, Bind: BindExact}
	client := netip.MustParseAddr("203.0.113.7")
	s, _ := rule.Sign("/live/x.flv", time.Unix(2000000000, 0), client)
	now := time.Unix(1900000000, 0)
	parts := []*string{&s.Token, &s.Expires, &s.Path}
	for _, p := range parts {
		orig := *p
		for i := range len(orig) {
			for _, c := range []byte{'0', 'A', '_', '/', 'z'} {
				if orig[i] == c {
					continue
				}
				*p = orig[:i] + string(c) + orig[i+1:]
				if err := rule.Verify(s.Token, s.Expires, s.Path, client, now); err == nil {
					t.Errorf("token %s expires %s path %s passed", s.Token, s.Expires, s.Path)
				}
			}
		}
		*p = orig
	}
	if err := rule.Verify(s.Token, s.Expires, s.Path, client, now); err != nil {
		t.Fatalf("the untouched token: %v", err)
	}
}

func TestSplitPathToken(t *testing.T) {
	const md5Tok, hmacTok = "9iAuffAIMgXPEDKLrDyVUA", "d1dY1eNY5vy51peYRivJxHoWXvxv6e6qaybOynT_hLU"
	cases := []struct {
		path, token, expires, rest string
		ok                         bool
	}{
		{"/" + md5Tok + "/2000000000/live/x.flv", md5Tok, "2000000000", "/live/x.flv", true},
		{"/" + hmacTok + "/2000000000/vod/a/b.mp4", hmacTok, "2000000000", "/vod/a/b.mp4", true},
		{"/" + md5Tok + "/2000000000/x", md5Tok, "2000000000", "/x", true},
		{"/" + md5Tok + "/2000000000/", "", "", "", false},
		{"/" + md5Tok + "/2000000000", "", "", "", false},
		{"/" + md5Tok + "/20000x0000/live/x.flv", "", "", "", false},
		{"/" + md5Tok[:21] + "/2000000000/live/x.flv", "", "", "", false},
		{"/" + md5Tok[:21] + "+/2000000000/live/x.flv", "", "", "", false},
		{"/live/x.flv", "", "", "", false},
		{"", "", "", "", false},
		{"/", "", "", "", false},
		{md5Tok + "/2000000000/live/x.flv", "", "", "", false},
	}
	for _, c := range cases {
		token, expires, rest, ok := splitPathToken(c.path)
		if token != c.token || expires != c.expires || rest != c.rest || ok != c.ok {
			t.Errorf("%q: got %q %q %q %v", c.path, token, expires, rest, ok)
		}
	}
}

func TestParseSchemeAndBinding(t *testing.T) {
	for _, s := range []Scheme{MD5, HMACSHA256} {
		if got, err := ParseScheme(s.String()); err != nil || got != s {
			t.Errorf("ParseScheme(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseScheme("sha1"); err == nil {
		t.Error("sha1 accepted")
	}
	for _, b := range []Binding{BindNone, BindExact, Bind24, Bind16} {
		if got, err := ParseBinding(b.String()); err != nil || got != b {
			t.Errorf("ParseBinding(%q) = %v, %v", b, got, err)
		}
	}
	if _, err := ParseBinding("/8"); err == nil {
		t.Error("/8 accepted")
	}
}
