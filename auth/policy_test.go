package auth

import (
	"net/http"
	"net/netip"
	"testing"
)

func mustPolicy(t *testing.T, cfg Config) *Policy {
	t.Helper()
	p, err := NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSetPolicyKeepsViewersCounted: the viewers of a stream stay counted
// when a reload puts new rules in force, so the stream's limit holds; a
// changed limit applies to the viewers that come next.
func TestSetPolicyKeepsViewersCounted(t *testing.T) {
	limit := func(n int) Config { return Config{Play: []Scope{{Prefix: "/live/", MaxViewers: n}}} }
	g := newGuard(t, limit(2), nil)
	s := newServer(t, g)
	v1, v2 := s.get(t, "/live/x.flv"), s.get(t, "/live/x.flv")
	if v1.status != http.StatusOK || v2.status != http.StatusOK {
		t.Fatalf("%d %d", v1.status, v2.status)
	}

	g.SetPolicy(mustPolicy(t, limit(2)))
	if r := s.get(t, "/live/x.flv"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("third viewer after a reload: %d, want 503", r.status)
	}

	g.SetPolicy(mustPolicy(t, limit(3)))
	if r := s.get(t, "/live/x.flv"); r.status != http.StatusOK {
		t.Fatalf("third viewer with the limit raised to 3: %d", r.status)
	}
	if r := s.get(t, "/live/x.flv"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("fourth viewer with the limit raised to 3: %d, want 503", r.status)
	}

	g.SetPolicy(mustPolicy(t, limit(1)))
	v1.flowing(t) // a lower limit is for newcomers; nobody is cut off
	v2.flowing(t)
	if play, _ := g.Refusals(); play[StreamFull] != 2 {
		t.Fatalf("refusals over the reloads: %v, want 2 for viewers", play)
	}
}

// TestSetPolicyBringsALimitToOpenRequests: requests open while no limit
// applied are counted all the same, so a limit that a reload brings sees
// them.
func TestSetPolicyBringsALimitToOpenRequests(t *testing.T) {
	g := newGuard(t, Config{}, nil)
	s := newServer(t, g)
	s.get(t, "/live/x.flv")
	s.get(t, "/live/y.flv")
	g.SetPolicy(mustPolicy(t, Config{Limits: Limits{MaxConnsPerClient: 2}, Play: []Scope{{Prefix: "/", MaxViewers: 1}}}))
	if r := s.get(t, "/vod/a.mp4"); r.status != http.StatusTooManyRequests {
		t.Fatalf("the client's third request under a new limit of 2: %d, want 429", r.status)
	}
	g.SetPolicy(mustPolicy(t, Config{Play: []Scope{{Prefix: "/", MaxViewers: 1}}}))
	if r := s.get(t, "/live/x.flv"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("a stream's second viewer under a new limit of 1: %d, want 503", r.status)
	}
}

// TestSetPolicyKeepsConnectionsCounted: a client at max_connections stays
// there across a reload.
func TestSetPolicyKeepsConnectionsCounted(t *testing.T) {
	cfg := Config{Limits: Limits{MaxConnsPerClient: 2}}
	g := newGuard(t, cfg, nil)
	s := newServer(t, g)
	v1, v2 := s.get(t, "/live/x.flv"), s.get(t, "/live/y.flv")
	g.SetPolicy(mustPolicy(t, cfg))
	if r := s.get(t, "/vod/a.mp4"); r.status != http.StatusTooManyRequests {
		t.Fatalf("third request after a reload: %d, want 429", r.status)
	}
	v2.body.Close()
	waitFor(t, func() bool { return s.get(t, "/vod/a.mp4").status == http.StatusOK })
	v1.flowing(t)
}

// TestSetPolicyKeepsBuckets: a reload does not refill a client's bucket; a
// new rate and burst apply to it from the reload on.
func TestSetPolicyKeepsBuckets(t *testing.T) {
	now := newClock(1900000000)
	proxy := Proxies{netip.MustParsePrefix("127.0.0.1/32")}
	limits := func(rate float64, burst int) Config {
		return Config{Proxies: proxy, Limits: Limits{Rate: rate, Burst: burst}}
	}
	g := newGuard(t, limits(1, 3), now)
	s := newServer(t, g)
	get := func() int { return s.get(t, "/vod/a.mp4", "X-Forwarded-For", "192.0.2.1").status }
	for range 3 {
		if code := get(); code != http.StatusOK {
			t.Fatalf("within the burst: %d", code)
		}
	}

	g.SetPolicy(mustPolicy(t, limits(1, 3)))
	if code := get(); code != http.StatusTooManyRequests {
		t.Fatalf("after a reload with the same rate: %d, want 429 (bucket refilled)", code)
	}
	g.SetPolicy(mustPolicy(t, limits(5, 10)))
	if code := get(); code != http.StatusTooManyRequests {
		t.Fatalf("after a reload that raises the burst: %d, want 429 (bucket refilled)", code)
	}
	g.SetPolicy(mustPolicy(t, Config{Proxies: proxy}))
	if code := get(); code != http.StatusOK {
		t.Fatalf("with the rate limit lifted: %d", code)
	}
	g.SetPolicy(mustPolicy(t, limits(5, 10)))
	if code := get(); code != http.StatusTooManyRequests {
		t.Fatalf("with the rate limit back: %d, want 429 (bucket refilled)", code)
	}

	now.set(1900000001) // a second at the new rate: 5 tokens
	for i := range 5 {
		if code := get(); code != http.StatusOK {
			t.Fatalf("request %d of the second at the new rate: %d", i+1, code)
		}
	}
	if code := get(); code != http.StatusTooManyRequests {
		t.Fatalf("sixth request of the second at 5/s: %d, want 429", code)
	}
	if play, _ := g.Refusals(); play[RateLimited] != 4 {
		t.Fatalf("refusals %v, want 4 for rate", play)
	}
}
