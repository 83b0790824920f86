package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	liveToken   = "9iAuffAIMgXPEDKLrDyVUA"                      // "md5 unbound" of token_test.go: /live/x.flv, 2000000000, s3cret
	vodToken    = "12KV1Ti_DKuMLSvXM9f93w"                      // "md5 vod": /vod/a.mp4
	folderToken = "vl9ZSoiTYSObQSKp77RHdA"                      // "md5 folder": /live/
	hmacToken   = "d1dY1eNY5vy51peYRivJxHoWXvxv6e6qaybOynT_hLU" // "hmac unbound": /live/x.flv
	// presentationToken is signed like folderToken, for /vod/film.ism/.
	presentationToken = "sdBNhmX54zxSnY8vTkhh5A"
)

// TestPlayTokens runs the same requests on a live and a VOD path: tokens
// apply to both alike, in the query and in the path.
func TestPlayTokens(t *testing.T) {
	now := newClock(1900000000)
	var cfg Config
	cfg.SetRootToken(TokenRule{Secrets: []string{"s3cret"}})
	log := &warnings{}
	cfg.Log = log
	g := newGuard(t, cfg, now)
	s := newServer(t, g)

	for _, p := range []struct{ path, token string }{{"/live/x.flv", liveToken}, {"/vod/a.mp4", vodToken}} {
		good := "?md5=" + p.token + "&expires=2000000000"
		tampered := "?md5=" + p.token[:5] + "x" + p.token[6:] + "&expires=2000000000"
		cases := []struct {
			name, url string
			status    int
		}{
			{"query", p.path + good, http.StatusOK},
			{"in path", "/" + p.token + "/2000000000" + p.path, http.StatusOK},
			{"in path, other query kept", "/" + p.token + "/2000000000" + p.path + "?only_audio=1", http.StatusOK},
			{"missing", p.path, http.StatusForbidden},
			{"tampered", p.path + tampered, http.StatusForbidden},
			{"tampered expiry", p.path + "?md5=" + p.token + "&expires=2000000001", http.StatusForbidden},
			{"other path", "/live/y.flv" + good, http.StatusForbidden},
			{"in path, tampered", "/" + p.token[:5] + "x" + p.token[6:] + "/2000000000" + p.path, http.StatusForbidden},
			{"malformed", p.path + "?md5=abc&expires=2000000000", http.StatusForbidden},
		}
		for _, c := range cases {
			t.Run(p.path+" "+c.name, func(t *testing.T) {
				r := s.get(t, c.url)
				if r.status != c.status {
					t.Fatalf("%s: %d, want %d", c.url, r.status, c.status)
				}
				if c.status == http.StatusOK && r.line != "path "+p.path {
					t.Fatalf("handler saw %q, want the path without the token", r.line)
				}
				if c.status == http.StatusForbidden && r.line != "Forbidden" {
					t.Fatalf("body %q gives more than the status", r.line)
				}
			})
		}
	}

	now.set(2000000001)
	if r := s.get(t, "/vod/a.mp4?md5="+vodToken+"&expires=2000000000"); r.status != http.StatusGone || r.line != "Gone" {
		t.Fatalf("expired: %d %q, want 410 Gone", r.status, r.line)
	}
	if r := s.get(t, "/"+liveToken+"/2000000000/live/x.flv"); r.status != http.StatusGone {
		t.Fatalf("expired in path: %d, want 410", r.status)
	}

	play, _ := g.Refusals()
	if play[TokenMissing] != 2 || play[TokenExpired] != 2 || play[TokenMalformed] != 2 || play[TokenInvalid] != 8 {
		t.Fatalf("refusals %v", play)
	}
	if logs := log.String(); !strings.Contains(logs, "reason token_expired") || !strings.Contains(logs, "127.0.0.1 play refused") {
		t.Fatalf("log lacks the reason or client:\n%s", logs)
	}
}

func TestPlayFolderAndHMAC(t *testing.T) {
	g := newGuard(t, Config{Play: []Scope{
		{Prefix: "/", Token: &TokenRule{Secrets: []string{"s3cret"}}},
		{Prefix: "/live/", Token: &TokenRule{Scheme: HMACSHA256, Secrets: []string{"s3cret"}}},
		{Prefix: "/vod/", Token: &TokenRule{Secrets: []string{"s3cret"}}},
	}}, newClock(1900000000))
	s := newServer(t, g)
	cases := []struct {
		url    string
		status int
	}{
		{"/live/x.flv?hmac=" + hmacToken + "&expires=2000000000", http.StatusOK},
		{"/" + hmacToken + "/2000000000/live/x.flv", http.StatusOK},
		// An MD5 token is no token where HMAC is asked for; its in-path
		// form is then no token at all but part of a path.
		{"/live/x.flv?md5=" + liveToken + "&expires=2000000000", http.StatusForbidden},
		{"/" + liveToken + "/2000000000/live/x.flv", http.StatusForbidden},
		{"/vod/a.mp4?md5=" + vodToken + "&expires=2000000000", http.StatusOK},
	}
	for _, c := range cases {
		if r := s.get(t, c.url); r.status != c.status {
			t.Errorf("%s: %d, want %d", c.url, r.status, c.status)
		}
	}

	// A folder token signed for /live/ under an MD5 rule.
	g2 := newGuard(t, Config{Play: []Scope{{Prefix: "/", Token: &TokenRule{Secrets: []string{"s3cret"}}}}}, newClock(1900000000))
	s2 := newServer(t, g2)
	for _, c := range []struct {
		url    string
		status int
	}{
		{"/live/x.flv?md5=" + folderToken + "&expires=2000000000", http.StatusOK},
		{"/live/other.flv?md5=" + folderToken + "&expires=2000000000", http.StatusOK},
		{"/" + folderToken + "/2000000000/live/other.flv", http.StatusOK},
		{"/vod/a.mp4?md5=" + folderToken + "&expires=2000000000", http.StatusForbidden},
		// A presentation's folder token opens its manifest and, in the
		// path where the manifest's relative URLs keep it, its fragments.
		{"/" + presentationToken + "/2000000000/vod/film.ism/Manifest", http.StatusOK},
		{"/" + presentationToken + "/2000000000/vod/film.ism/QualityLevels(500000)/Fragments(video=0)", http.StatusOK},
		{"/vod/film.ism/QualityLevels(64000)/Fragments(audio=0)?md5=" + presentationToken + "&expires=2000000000", http.StatusOK},
		{"/" + presentationToken + "/2000000000/vod/film.mp4", http.StatusForbidden},
	} {
		if r := s2.get(t, c.url); r.status != c.status {
			t.Errorf("%s: %d, want %d", c.url, r.status, c.status)
		}
	}
}

// TestLiveViewerOutlivesToken: expiry is checked when a request starts, so
// a viewer already watching is not cut off when its token expires.
func TestLiveViewerOutlivesToken(t *testing.T) {
	now := newClock(1999999999)
	var cfg Config
	cfg.SetRootToken(TokenRule{Secrets: []string{"s3cret"}})
	s := newServer(t, newGuard(t, cfg, now))
	url := "/live/x.flv?md5=" + liveToken + "&expires=2000000000"
	viewer := s.get(t, url)
	if viewer.status != http.StatusOK {
		t.Fatalf("before expiry: %d", viewer.status)
	}
	now.set(2000000005)
	viewer.flowing(t)
	if r := s.get(t, url); r.status != http.StatusGone {
		t.Fatalf("new request after expiry: %d, want 410", r.status)
	}
	viewer.flowing(t)
}

func TestScopesInherit(t *testing.T) {
	g := newGuard(t, Config{Play: []Scope{
		{Prefix: "/", Token: &TokenRule{Secrets: []string{"s3cret"}}, Agent: &AgentRule{Deny: []*regexp.Regexp{regexp.MustCompile("(?i)curl")}}},
		{Prefix: "/live/", Referer: &RefererRule{Allow: []string{"player.example"}, AllowEmpty: true}},
		{Prefix: "/vod/free/", Token: &TokenRule{}},
	}}, newClock(1900000000))
	s := newServer(t, g)
	cases := []struct {
		name   string
		url    string
		header []string
		status int
	}{
		{"live inherits the token", "/live/x.flv", nil, http.StatusForbidden},
		{"live with a token", "/live/x.flv?md5=" + liveToken + "&expires=2000000000", nil, http.StatusOK},
		{"live adds the referer rule", "/live/x.flv?md5=" + liveToken + "&expires=2000000000", []string{"Referer", "https://other.example/"}, http.StatusForbidden},
		{"live inherits the agent rule", "/live/x.flv?md5=" + liveToken + "&expires=2000000000", []string{"User-Agent", "curl/8"}, http.StatusForbidden},
		{"a scope lifts the token", "/vod/free/a.mp4", nil, http.StatusOK},
		{"and keeps the agent rule", "/vod/free/a.mp4", []string{"User-Agent", "CURL"}, http.StatusForbidden},
		{"no referer rule outside /live/", "/vod/a.mp4?md5=" + vodToken + "&expires=2000000000", []string{"Referer", "https://other.example/"}, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := s.get(t, c.url, c.header...); r.status != c.status {
				t.Fatalf("%d, want %d", r.status, c.status)
			}
		})
	}
}

func TestSetRootTokenOverridesFile(t *testing.T) {
	cfg := Config{Play: []Scope{
		{Prefix: "/", Token: &TokenRule{Secrets: []string{"from-file"}}},
		{Prefix: "/vod/", Token: &TokenRule{Scheme: HMACSHA256, Secrets: []string{"vod"}}},
	}}
	cfg.SetRootToken(TokenRule{Secrets: []string{"s3cret"}})
	if len(cfg.Play) != 2 || cfg.Play[0].Token.Secrets[0] != "s3cret" || cfg.Play[1].Token.Secrets[0] != "vod" {
		t.Fatalf("%+v", cfg.Play)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"relative prefix", Config{Play: []Scope{{Prefix: "live/"}}}, "must start with /"},
		{"prefix twice", Config{Play: []Scope{{Prefix: "/live/"}, {Prefix: "/live/"}}}, "twice"},
		{"empty secret", Config{Play: []Scope{{Prefix: "/", Token: &TokenRule{Secrets: []string{""}}}}}, "empty secret"},
		{"bad scheme", Config{Play: []Scope{{Prefix: "/", Token: &TokenRule{Scheme: 7, Secrets: []string{"s"}}}}}, "scheme"},
		{"bad referer", Config{Play: []Scope{{Prefix: "/", Referer: &RefererRule{Allow: []string{"https://x.example/"}}}}}, "no host"},
		{"bad country", Config{Play: []Scope{{Prefix: "/", Country: &CountryRule{Allow: []string{"Germany"}}}}}, "ISO 3166"},
		{"country without database", Config{Play: []Scope{{Prefix: "/", Country: &CountryRule{Allow: []string{"DE"}}}}}, "country database"},
		{"missing database", Config{CountryDB: "/nonexistent.mmdb", Play: []Scope{{Prefix: "/", Country: &CountryRule{Deny: []string{"DE"}}}}}, "nonexistent"},
		{"bad callback", Config{Play: []Scope{{Prefix: "/", Callback: &Callback{URL: "ftp://x"}}}}, "callback URL"},
		{"invalid prefix", Config{Play: []Scope{{Prefix: "/", IP: &IPRule{Deny: []netip.Prefix{{}}}}}}, "invalid prefix"},
		{"negative limit", Config{Limits: Limits{Rate: -1}}, "negative"},
		{"publish without app", Config{Publish: []PublishRule{{Keys: []string{"k"}}}}, "without an app"},
		{"publish app twice", Config{Publish: []PublishRule{{App: "live"}, {App: "live"}}}, "twice"},
		{"empty key", Config{Publish: []PublishRule{{App: "live", Keys: []string{""}}}}, "empty publish key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := New(c.cfg)
			if err == nil {
				g.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestPlayCallback(t *testing.T) {
	var (
		mu  sync.Mutex
		got CallbackRequest
	)
	last := func() CallbackRequest {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var req CallbackRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = req
		mu.Unlock()
		switch {
		case strings.Contains(req.Path, "slow"):
			// Silent until the caller gives up at its timeout.
			<-r.Context().Done()
		case strings.Contains(req.Path, "moved"):
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case !strings.Contains(req.Query, "ticket=ok"):
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer hook.Close()

	var cfg Config
	cfg.SetRootToken(TokenRule{Secrets: []string{"s3cret"}})
	cfg.Play = append(cfg.Play, Scope{Prefix: "/live/", Callback: &Callback{URL: hook.URL, Timeout: callbackTimeout}})
	g := newGuard(t, cfg, newClock(1900000000))
	s := newServer(t, g)

	r := s.get(t, "/"+liveToken+"/2000000000/live/x.flv?ticket=ok", "Referer", "https://site.example/", "User-Agent", "mpegts.js")
	if r.status != http.StatusOK {
		t.Fatalf("allowed by the callback: %d", r.status)
	}
	want := CallbackRequest{Action: "play", Path: "/live/x.flv", Client: "127.0.0.1", Query: "ticket=ok", Referer: "https://site.example/", UserAgent: "mpegts.js"}
	if last() != want {
		t.Fatalf("callback got %+v, want %+v", last(), want)
	}
	if r := s.get(t, "/live/x.flv?md5="+liveToken+"&expires=2000000000&ticket=no"); r.status != http.StatusForbidden {
		t.Fatalf("refused by the callback: %d", r.status)
	}
	// The callback is asked only after the token passed.
	if r := s.get(t, "/live/other.flv?ticket=ok"); r.status != http.StatusForbidden || last().Path == "/live/other.flv" {
		t.Fatalf("no token: %d, callback asked: %v", r.status, last().Path == "/live/other.flv")
	}

	slow, err := (&TokenRule{Secrets: []string{"s3cret"}}).Sign("/live/slow.flv", time.Unix(2000000000, 0), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r = s.get(t, slow.URL()+"&ticket=ok")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("callback timed out: %d, want 503", r.status)
	}
	// The hook never answers: only the timeout ends the wait, not before
	// it is due (an upper bound would be a timing a busy machine misses).
	if d := time.Since(start); d < callbackTimeout {
		t.Fatalf("gave up after %v, before the timeout of %v", d, callbackTimeout)
	}
	moved, _ := (&TokenRule{Secrets: []string{"s3cret"}}).Sign("/live/moved.flv", time.Unix(2000000000, 0), netip.Addr{})
	if r := s.get(t, moved.URL()+"&ticket=ok"); r.status != http.StatusForbidden {
		t.Fatalf("a redirect is no yes: %d", r.status)
	}
	play, _ := g.Refusals()
	if play[CallbackDenied] != 2 || play[CallbackFailed] != 1 {
		t.Fatalf("refusals %v", play)
	}
}

func TestExemptClients(t *testing.T) {
	var cfg Config
	cfg.SetRootToken(TokenRule{Secrets: []string{"s3cret"}})
	cfg.Play[0].Referer = &RefererRule{}
	cfg.Exempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.Limits = Limits{Rate: 1, Burst: 1}
	s := newServer(t, newGuard(t, cfg, nil))
	for range 3 {
		if r := s.get(t, "/live/x.flv"); r.status != http.StatusOK {
			t.Fatalf("exempt client: %d", r.status)
		}
	}
	if r := s.get(t, "/"+liveToken+"/2000000000/live/x.flv"); r.status != http.StatusOK || r.line != "path /live/x.flv" {
		t.Fatalf("exempt client, in-path token: %d %q", r.status, r.line)
	}

	cfg.Exempt = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	s = newServer(t, newGuard(t, cfg, nil))
	if r := s.get(t, "/live/x.flv"); r.status != http.StatusForbidden {
		t.Fatalf("other client: %d", r.status)
	}
}

func TestTokenForSigning(t *testing.T) {
	cfg := Config{
		Play: []Scope{
			{Prefix: "/", Token: &TokenRule{Secrets: []string{"a"}}},
			{Prefix: "/vod/", Token: &TokenRule{Scheme: HMACSHA256, Secrets: []string{"b"}, Bind: Bind24}},
			{Prefix: "/free/", Token: &TokenRule{}},
		},
		Publish: []PublishRule{{App: "live", Token: &TokenRule{Secrets: []string{"p"}}}, {App: "*", Keys: []string{"k"}}},
	}
	for path, want := range map[string]string{"/live/x.flv": "a", "/vod/a.mp4": "b", "/free/x.flv": ""} {
		rule, err := cfg.PlayToken(path)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if rule != nil {
			got = rule.Secrets[0]
		}
		if got != want {
			t.Errorf("%s: secret %q, want %q", path, got, want)
		}
	}
	if rule, err := cfg.PublishToken("live"); err != nil || rule == nil || rule.Secrets[0] != "p" {
		t.Errorf("publish live: %+v %v", rule, err)
	}
	if rule, err := cfg.PublishToken("other"); err != nil || rule != nil {
		t.Errorf("publish other: %+v %v", rule, err)
	}
	bad := Config{Play: []Scope{{Prefix: "x"}}}
	if _, err := bad.PlayToken("/x"); err == nil {
		t.Error("bad config accepted")
	}
}

func TestReasons(t *testing.T) {
	statuses := map[Reason]int{
		TokenExpired: http.StatusGone, RateLimited: http.StatusTooManyRequests, ClientBusy: http.StatusTooManyRequests,
		StreamFull: http.StatusServiceUnavailable, CallbackFailed: http.StatusServiceUnavailable,
	}
	all := AllReasons()
	seen := map[Reason]bool{}
	for _, r := range all {
		if seen[r] {
			t.Errorf("%s listed twice", r)
		}
		seen[r] = true
		want, ok := statuses[r]
		if !ok {
			want = http.StatusForbidden
		}
		if r.Status() != want {
			t.Errorf("%s: status %d, want %d", r, r.Status(), want)
		}
	}
	if len(all) != 14 || !seen[KeyInvalid] || !seen[CountryDenied] {
		t.Errorf("AllReasons: %v", all)
	}
	if ReasonOf(nil) != "" || ReasonOf(http.ErrAbortHandler) != "" {
		t.Error("ReasonOf of an error without a reason")
	}
}
