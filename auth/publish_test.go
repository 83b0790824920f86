package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func publishReq(app, streamWithQuery, client string) PublishRequest {
	stream, rawQuery, _ := strings.Cut(streamWithQuery, "?")
	q, _ := url.ParseQuery(rawQuery)
	return PublishRequest{App: app, Stream: stream, Query: q, Client: addr(client)}
}

func TestPublishKeys(t *testing.T) {
	g := newGuard(t, Config{Publish: []PublishRule{
		{App: "live", Keys: []string{"abc", "def"}, StreamKeys: map[string][]string{"cam1": {"cam1-only"}}},
		{App: "*", Keys: []string{"fallback"}},
		{App: "open"},
	}}, nil)
	cases := []struct {
		app, stream string
		want        error
	}{
		{"live", "cam1?key=abc", nil},
		{"live", "cam2?key=def", nil},
		{"live", "cam1?key=cam1-only", nil},
		{"live", "cam2?key=cam1-only", KeyInvalid},
		{"live", "cam1?key=abd", KeyInvalid},
		{"live", "cam1?key=ab", KeyInvalid},
		{"live", "cam1?key=abcd", KeyInvalid},
		{"live", "cam1", KeyInvalid},
		{"live", "cam1?key=", KeyInvalid},
		{"live", "cam1?key=fallback", KeyInvalid},
		{"other", "x?key=fallback", nil},
		{"other", "x?key=abc", KeyInvalid},
		{"open", "x", nil},
	}
	for _, c := range cases {
		_, err := g.AuthorizePublish(context.Background(), publishReq(c.app, c.stream, "192.0.2.1"))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s/%s: %v, want %v", c.app, c.stream, err, c.want)
		}
	}
	if _, pub := g.Refusals(); pub[KeyInvalid] != 8 {
		t.Fatalf("refusals %v", pub)
	}

	// Without any rule, every app is open.
	open := newGuard(t, Config{}, nil)
	if _, err := open.AuthorizePublish(context.Background(), publishReq("live", "x", "")); err != nil {
		t.Fatal(err)
	}
}

func TestPublishSignedKey(t *testing.T) {
	// printf '%s' '2000000000/live/cam1 pubsecret' | openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =
	const cam1Token = "IcCuIj1k12bYSTveqoflqQ"
	// printf '%s' '2000000000/live/ pubsecret' | ...: every stream of the app.
	const appToken = "Z1M0AT_7o99-TRAajiRjow"
	now := newClock(1900000000)
	g := newGuard(t, Config{Publish: []PublishRule{{App: "live", Token: &TokenRule{Secrets: []string{"pubsecret"}}}}}, now)
	cases := []struct {
		stream string
		want   error
	}{
		{"cam1?expires=2000000000&md5=" + cam1Token, nil},
		{"cam2?expires=2000000000&md5=" + cam1Token, TokenInvalid},
		{"cam2?expires=2000000000&md5=" + appToken, nil},
		{"cam1?expires=2000000001&md5=" + cam1Token, TokenInvalid},
		{"cam1?md5=" + cam1Token, TokenMalformed},
		{"cam1", TokenMissing},
		{"cam1?key=pubsecret", TokenMissing},
	}
	for _, c := range cases {
		_, err := g.AuthorizePublish(context.Background(), publishReq("live", c.stream, "192.0.2.1"))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.stream, err, c.want)
		}
	}
	now.set(2000000001)
	if _, err := g.AuthorizePublish(context.Background(), publishReq("live", "cam1?expires=2000000000&md5="+cam1Token, "")); !errors.Is(err, TokenExpired) {
		t.Fatalf("expired: %v", err)
	}
}

func TestPublishCallback(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []CallbackRequest
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req CallbackRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		switch req.Stream {
		case "ok":
			w.WriteHeader(http.StatusNoContent)
		case "slow":
			// Silent until the caller gives up at its timeout.
			<-r.Context().Done()
		case "broken":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer hook.Close()
	g := newGuard(t, Config{Publish: []PublishRule{
		{App: "live", Callback: &Callback{URL: hook.URL + "/on_publish", Timeout: callbackTimeout}},
		{App: "mixed", Keys: []string{"abc"}, Callback: &Callback{URL: hook.URL}},
	}}, nil)
	ctx := context.Background()

	if _, err := g.AuthorizePublish(ctx, publishReq("live", "ok?token=t1&x=2", "192.0.2.1")); err != nil {
		t.Fatalf("allowed by the callback: %v", err)
	}
	mu.Lock()
	want := CallbackRequest{Action: "publish", App: "live", Stream: "ok", Client: "192.0.2.1", Query: "token=t1&x=2"}
	if len(seen) != 1 || seen[0] != want {
		t.Fatalf("callback got %+v, want %+v", seen, want)
	}
	mu.Unlock()
	if _, err := g.AuthorizePublish(ctx, publishReq("live", "no", "192.0.2.1")); !errors.Is(err, CallbackDenied) {
		t.Fatalf("403 from the callback: %v", err)
	}
	if _, err := g.AuthorizePublish(ctx, publishReq("live", "broken", "192.0.2.1")); !errors.Is(err, CallbackDenied) {
		t.Fatalf("500 from the callback: %v", err)
	}
	start := time.Now()
	if _, err := g.AuthorizePublish(ctx, publishReq("live", "slow", "192.0.2.1")); !errors.Is(err, CallbackFailed) {
		t.Fatalf("callback timeout: %v", err)
	}
	// The hook never answers: only the timeout ends the wait, not before
	// it is due (an upper bound would be a timing a busy machine misses).
	if d := time.Since(start); d < callbackTimeout {
		t.Fatalf("gave up after %v, before the timeout of %v", d, callbackTimeout)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.AuthorizePublish(cancelled, publishReq("live", "ok", "192.0.2.1")); !errors.Is(err, CallbackFailed) {
		t.Fatalf("publisher gone: %v", err)
	}

	// A good key spares the callback; a wrong one falls through to it.
	mu.Lock()
	seen = nil
	mu.Unlock()
	if _, err := g.AuthorizePublish(ctx, publishReq("mixed", "cam?key=abc", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AuthorizePublish(ctx, publishReq("mixed", "ok?key=wrong", "")); err != nil {
		t.Fatalf("callback should have allowed: %v", err)
	}
	_, err := g.AuthorizePublish(ctx, publishReq("mixed", "no?key=wrong", ""))
	if ReasonOf(err) != CallbackDenied || !strings.Contains(err.Error(), string(KeyInvalid)) {
		t.Fatalf("both refused: %v; want the callback's reason and the key's failure in the text", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("callback asked %d times, want 2", len(seen))
	}
}

func TestPublishIP(t *testing.T) {
	g := newGuard(t, Config{Publish: []PublishRule{
		{App: "live", IP: &IPRule{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, Keys: []string{"abc"}},
	}}, nil)
	cases := []struct {
		stream, client string
		want           error
	}{
		{"x?key=abc", "192.0.2.9", nil},
		{"x?key=abc", "198.51.100.1", IPDenied},
		{"x?key=abc", "", IPDenied},
		{"x?key=no", "192.0.2.9", KeyInvalid},
	}
	for _, c := range cases {
		_, err := g.AuthorizePublish(context.Background(), publishReq("live", c.stream, c.client))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s from %q: %v, want %v", c.stream, c.client, err, c.want)
		}
	}
}

// TestPublishReason: with several methods, the reason counted is that of
// the method the publisher tried.
func TestPublishReason(t *testing.T) {
	g := newGuard(t, Config{Publish: []PublishRule{
		{App: "live", Keys: []string{"abc"}, Token: &TokenRule{Secrets: []string{"pubsecret"}}},
	}}, newClock(1900000000))
	for stream, want := range map[string]Reason{
		"cam1?key=wrong":                  KeyInvalid,
		"cam1":                            KeyInvalid,
		"cam1?md5=x&expires=2000000000":   TokenMalformed,
		"cam1?key=abd&expires=2000000000": TokenMalformed,
	} {
		_, err := g.AuthorizePublish(context.Background(), publishReq("live", stream, ""))
		if ReasonOf(err) != want {
			t.Errorf("%s: %v, want %s", stream, err, want)
		}
	}
}

// callbackTimeout is the callbacks' timeout in tests: long enough for a
// hook's answer on a loaded machine, as a silent hook costs it once.
const callbackTimeout = 2 * time.Second

// The identity tells the publisher that left a stream from another one:
// the same credential is the same identity, whoever holds it; an open app
// knows its publishers by address.
func TestPublishIdentity(t *testing.T) {
	g := newGuard(t, Config{Publish: []PublishRule{
		{App: "live", Keys: []string{"abc", "def"}},
		{App: "ip", IP: &IPRule{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}},
	}}, nil)
	id := func(app, stream, client string) PublishIdentity {
		t.Helper()
		id, err := g.AuthorizePublish(context.Background(), publishReq(app, stream, client))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	abc := id("live", "cam1?key=abc", "192.0.2.1")
	if again := id("live", "cam1?key=abc", "198.51.100.7"); again != abc {
		t.Errorf("same key from elsewhere: %q, then %q", abc, again)
	}
	if other := id("live", "cam1?key=def", "192.0.2.1"); other == abc {
		t.Errorf("another key is the same identity %q", abc)
	}
	if strings.Contains(string(abc), "abc") {
		t.Errorf("identity %q carries the key", abc)
	}
	if a, b := id("open", "x", "192.0.2.1"), id("open", "x", "192.0.2.2"); a == b || a != "address:192.0.2.1" {
		t.Errorf("open app: identities %q and %q", a, b)
	}
	if a := id("ip", "x", "192.0.2.1"); a != "address:192.0.2.1" {
		t.Errorf("app with an address rule only: identity %q", a)
	}
}
