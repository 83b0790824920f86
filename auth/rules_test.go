package auth

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Each rule is run on a live and a VOD path: they must decide alike.
var playPaths = []string{"/live/x.flv", "/vod/a.mp4"}

type ruleCase struct {
	name   string
	header []string
	status int
}

func runRuleCases(t *testing.T, cfg Config, cases []ruleCase) *Guard {
	t.Helper()
	g := newGuard(t, cfg, nil)
	s := newServer(t, g)
	for _, path := range playPaths {
		for _, c := range cases {
			t.Run(path+" "+c.name, func(t *testing.T) {
				r := s.get(t, path, c.header...)
				if r.status != c.status {
					t.Fatalf("%d, want %d", r.status, c.status)
				}
				if c.status == http.StatusForbidden && r.line != "Forbidden" {
					t.Fatalf("body %q", r.line)
				}
			})
		}
	}
	return g
}

func TestRefererRule(t *testing.T) {
	cases := []ruleCase{
		{"allowed host", []string{"Referer", "https://player.example/watch?v=1"}, http.StatusOK},
		{"host is case-insensitive, port ignored", []string{"Referer", "https://PLAYER.example:8443/"}, http.StatusOK},
		{"subdomain by wildcard", []string{"Referer", "http://a.b.site.example/"}, http.StatusOK},
		{"wildcard does not match the bare domain", []string{"Referer", "http://site.example/"}, http.StatusForbidden},
		{"denied subdomain wins over the wildcard", []string{"Referer", "http://evil.site.example/"}, http.StatusForbidden},
		{"other host", []string{"Referer", "https://hotlinker.example/"}, http.StatusForbidden},
		{"suffix trick", []string{"Referer", "https://notplayer.example/"}, http.StatusForbidden},
		{"host in the path", []string{"Referer", "https://hotlinker.example/player.example"}, http.StatusForbidden},
		{"garbage", []string{"Referer", "XXXX:XXXX"}, http.StatusForbidden},
		{"empty, allowed here", nil, http.StatusOK},
	}
	rule := &RefererRule{Allow: []string{"player.example", "*.site.example"}, Deny: []string{"evil.site.example"}, AllowEmpty: true}
	g := runRuleCases(t, Config{Play: []Scope{{Prefix: "/", Referer: rule}}}, cases)
	if play, _ := g.Refusals(); play[RefererDenied] != 12 {
		t.Fatalf("refusals %v", play)
	}

	runRuleCases(t, Config{Play: []Scope{{Prefix: "/", Referer: &RefererRule{Allow: []string{"player.example"}}}}}, []ruleCase{
		{"empty, refused here", nil, http.StatusForbidden},
		{"allowed host", []string{"Referer", "https://player.example/"}, http.StatusOK},
	})
	runRuleCases(t, Config{Play: []Scope{{Prefix: "/", Referer: &RefererRule{Deny: []string{"*"}, AllowEmpty: true}}}}, []ruleCase{
		{"only direct plays", nil, http.StatusOK},
		{"any page refused", []string{"Referer", "https://player.example/"}, http.StatusForbidden},
	})
}

func TestAgentRule(t *testing.T) {
	rule := &AgentRule{
		Allow: []*regexp.Regexp{regexp.MustCompile(`Mozilla/`), regexp.MustCompile(`^(Lavf|VLC)/`)},
		Deny:  []*regexp.Regexp{regexp.MustCompile(`(?i)bot\b`)},
	}
	runRuleCases(t, Config{Play: []Scope{{Prefix: "/", Agent: rule}}}, []ruleCase{
		{"browser", []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}, http.StatusOK},
		{"ffmpeg", []string{"User-Agent", "Lavf/61.7.100"}, http.StatusOK},
		{"denied bot that looks like a browser", []string{"User-Agent", "Mozilla/5.0 (compatible; SomeBot; +http://bot.example)"}, http.StatusForbidden},
		{"not allowed", []string{"User-Agent", "curl/8.5.0"}, http.StatusForbidden},
		{"anchored pattern", []string{"User-Agent", "x Lavf/61"}, http.StatusForbidden},
		// Go's client sends its own User-Agent unless told otherwise.
		{"default Go client", nil, http.StatusForbidden},
	})
}

func TestIPRule(t *testing.T) {
	rule := &IPRule{
		Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("::ffff:198.51.100.7/128")},
		Deny:  []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25")},
	}
	// The test client is 127.0.0.1, a trusted proxy, so X-Forwarded-For
	// names the client.
	cfg := Config{Proxies: Proxies{netip.MustParsePrefix("127.0.0.1/32")}, Play: []Scope{{Prefix: "/", IP: rule}}}
	runRuleCases(t, cfg, []ruleCase{
		{"allowed network", []string{"X-Forwarded-For", "192.0.2.10"}, http.StatusOK},
		{"denied part of it", []string{"X-Forwarded-For", "192.0.2.200"}, http.StatusForbidden},
		{"outside", []string{"X-Forwarded-For", "203.0.113.1"}, http.StatusForbidden},
		{"IPv6", []string{"X-Forwarded-For", "2001:db8:5::1"}, http.StatusOK},
		{"mapped prefix matches the IPv4 client", []string{"X-Forwarded-For", "198.51.100.7"}, http.StatusOK},
		{"the proxy itself is not allowed", nil, http.StatusForbidden},
	})
	// Without trusting the proxy, the header is the client's word only.
	runRuleCases(t, Config{Play: []Scope{{Prefix: "/", IP: rule}}}, []ruleCase{
		{"spoofed header", []string{"X-Forwarded-For", "192.0.2.10"}, http.StatusForbidden},
	})
}

// writeCountryDB builds a small MaxMind DB: network → country code, and one
// network known only by its registered country.
func writeCountryDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	country := func(code string) mmdbtype.Map {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code), "names": mmdbtype.Map{"en": mmdbtype.String(code)}}}
	}
	records := []struct {
		cidr string
		data mmdbtype.Map
	}{
		{"81.2.69.0/24", country("GB")},
		{"89.160.20.0/24", country("SE")},
		{"2a02:ffc0::/32", country("GI")},
		{"216.160.83.0/24", country("US")},
		{"2.125.160.0/24", mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}}},
	}
	for _, r := range records {
		_, n, err := net.ParseCIDR(r.cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, r.data); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "countries.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCountryDB(t *testing.T) {
	db, err := OpenCountryDB(writeCountryDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for ip, want := range map[string]string{
		"81.2.69.142": "GB", "89.160.20.1": "SE", "2a02:ffc0::1": "GI", "2.125.160.216": "DE",
		"203.0.113.1": "", "127.0.0.1": "",
	} {
		if got, err := db.Country(netip.MustParseAddr(ip)); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", ip, got, err, want)
		}
	}
	if got, err := db.Country(netip.Addr{}); got != "" || err != nil {
		t.Errorf("unknown address: %q %v", got, err)
	}
	if _, err := OpenCountryDB(filepath.Join(t.TempDir(), "none.mmdb")); err == nil {
		t.Error("missing file opened")
	}
	garbage := filepath.Join(t.TempDir(), "garbage.mmdb")
	os.WriteFile(garbage, []byte("not a MaxMind DB at all"), 0o644)
	if _, err := OpenCountryDB(garbage); err == nil {
		t.Error("garbage opened")
	}
}

func TestCountryRule(t *testing.T) {
	db := writeCountryDB(t)
	proxies := Proxies{netip.MustParsePrefix("127.0.0.1/32")}
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }

	g := runRuleCases(t, Config{CountryDB: db, Proxies: proxies, Play: []Scope{{Prefix: "/", Country: &CountryRule{Deny: []string{"se", "GI"}}}}}, []ruleCase{
		{"denied country", from("89.160.20.1"), http.StatusForbidden},
		{"denied country, IPv6", from("2a02:ffc0::5"), http.StatusForbidden},
		{"other country", from("81.2.69.142"), http.StatusOK},
		{"unknown country is not denied by a deny list", from("203.0.113.1"), http.StatusOK},
	})
	if play, _ := g.Refusals(); play[CountryDenied] != 4 {
		t.Fatalf("refusals %v", play)
	}
	runRuleCases(t, Config{CountryDB: db, Proxies: proxies, Play: []Scope{{Prefix: "/", Country: &CountryRule{Allow: []string{"GB", "DE"}}}}}, []ruleCase{
		{"allowed country", from("81.2.69.142"), http.StatusOK},
		{"allowed by registered country", from("2.125.160.216"), http.StatusOK},
		{"not allowed", from("216.160.83.56"), http.StatusForbidden},
		{"unknown country is refused by an allow list", from("203.0.113.1"), http.StatusForbidden},
	})
}
