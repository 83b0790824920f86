package auth

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	now := newClock(1900000000)
	g := newGuard(t, Config{Proxies: Proxies{netip.MustParsePrefix("127.0.0.1/32")}, Limits: Limits{Rate: 1, Burst: 3}}, now)
	s := newServer(t, g)
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }

	viewer := s.get(t, "/live/x.flv", from("192.0.2.1")...)
	for range 2 {
		if r := s.get(t, "/vod/a.mp4", from("192.0.2.1")...); r.status != http.StatusOK {
			t.Fatalf("within the burst: %d", r.status)
		}
	}
	r := s.get(t, "/vod/a.mp4", from("192.0.2.1")...)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("past the burst: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	viewer.flowing(t) // the limit is on new requests only

	if r := s.get(t, "/vod/a.mp4", from("192.0.2.2")...); r.status != http.StatusOK {
		t.Fatalf("another client: %d", r.status)
	}
	now.set(1900000001)
	if r := s.get(t, "/vod/a.mp4", from("192.0.2.1")...); r.status != http.StatusOK {
		t.Fatalf("a second later: %d", r.status)
	}

	// An IPv6 client is its /64: picking fresh addresses in it gains nothing.
	for i := range 3 {
		s.get(t, "/vod/a.mp4", from(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}).String())...)
	}
	if r := s.get(t, "/vod/a.mp4", from("2001:db8::ffff")...); r.status != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d", r.status)
	}
	if r := s.get(t, "/vod/a.mp4", from("2001:db8:0:1::1")...); r.status != http.StatusOK {
		t.Fatalf("other /64: %d", r.status)
	}
	if play, _ := g.Refusals(); play[RateLimited] != 2 {
		t.Fatalf("refusals %v", play)
	}
}

func TestRatesForgetLeastRecent(t *testing.T) {
	var r rates
	now := time.Unix(1900000000, 0)
	r.setLimits(Limits{Rate: 1, Burst: 1, MaxClients: 2}, now)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	if !r.allow(a, now) || r.allow(a, now) {
		t.Fatal("a's burst of 1")
	}
	r.allow(b, now)
	r.allow(c, now) // forgets a, the least recently seen
	if len(r.clients) != 2 || r.lru.Len() != 2 {
		t.Fatalf("%d clients remembered, want 2", len(r.clients))
	}
	if !r.allow(a, now) {
		t.Fatal("a, forgotten, should start afresh")
	}
	for range 3 {
		if !r.allow(netip.Addr{}, now) {
			t.Fatal("an unknown address is not limited")
		}
	}
	// A reload that lowers the bound forgets down to it at the next
	// newcomer.
	r.setLimits(Limits{Rate: 1, Burst: 1, MaxClients: 1}, now)
	r.allow(b, now)
	if len(r.clients) != 1 || r.lru.Len() != 1 {
		t.Fatalf("%d clients remembered, want 1", len(r.clients))
	}
}

func TestConnectionsPerClient(t *testing.T) {
	g := newGuard(t, Config{Limits: Limits{MaxConnsPerClient: 2}}, nil)
	s := newServer(t, g)
	v1, v2 := s.get(t, "/live/x.flv"), s.get(t, "/live/y.flv")
	if v1.status != http.StatusOK || v2.status != http.StatusOK {
		t.Fatalf("%d %d", v1.status, v2.status)
	}
	if r := s.get(t, "/vod/a.mp4"); r.status != http.StatusTooManyRequests {
		t.Fatalf("third request: %d, want 429", r.status)
	}
	v1.flowing(t)
	v2.flowing(t)
	v2.body.Close()
	waitFor(t, func() bool { return s.get(t, "/vod/a.mp4").status == http.StatusOK })
	v1.flowing(t)
	if play, _ := g.Refusals(); play[ClientBusy] == 0 {
		t.Fatalf("refusals %v", play)
	}
}

func TestMaxViewers(t *testing.T) {
	g := newGuard(t, Config{Play: []Scope{{Prefix: "/", MaxViewers: 2}, {Prefix: "/vod/", MaxViewers: -1}}}, nil)
	s := newServer(t, g)
	v1, v2 := s.get(t, "/live/x.flv"), s.get(t, "/live/x.flv?only_audio=1")
	r := s.get(t, "/live/x.flv")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("third viewer: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if r := s.get(t, "/live/y.flv"); r.status != http.StatusOK {
		t.Fatalf("another stream: %d", r.status)
	}
	v1.flowing(t)
	v2.flowing(t)
	v1.body.Close()
	waitFor(t, func() bool { return s.get(t, "/live/x.flv").status == http.StatusOK })
	v2.flowing(t)
	if play, _ := g.Refusals(); play[StreamFull] == 0 {
		t.Fatalf("refusals %v", play)
	}
}

// TestCountsEndWithRequests: the per-client and per-stream counts hold a
// key only while a request is open, so they cannot grow without bound.
func TestCountsEndWithRequests(t *testing.T) {
	g := newGuard(t, Config{Limits: Limits{MaxConnsPerClient: 5}, Play: []Scope{{Prefix: "/", MaxViewers: 5}}}, nil)
	s := newServer(t, g)
	for _, p := range []string{"/live/a.flv", "/live/b.flv", "/vod/c.mp4"} {
		s.get(t, p).body.Close()
	}
	s.Close() // waits for every handler
	g.conns.mu.Lock()
	defer g.conns.mu.Unlock()
	g.viewers.mu.Lock()
	defer g.viewers.mu.Unlock()
	if len(g.conns.n) != 0 || len(g.viewers.n) != 0 {
		t.Fatalf("left over: clients %v, streams %v", g.conns.n, g.viewers.n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAdmissionKeepsTheViewerCounted has a caller hold its admission past
// the request: the viewer stays counted until it is released, once.
func TestAdmissionKeepsTheViewerCounted(t *testing.T) {
	g := newGuard(t, Config{Play: []Scope{{Prefix: "/", MaxViewers: 1}}}, nil)
	admit := func() (int, *Admission) {
		rec := httptest.NewRecorder()
		_, a, ok := g.Admit(rec, httptest.NewRequest(http.MethodGet, "/live/a.flv", nil))
		if !ok {
			return rec.Code, nil
		}
		return http.StatusOK, a
	}
	code, first := admit()
	if code != http.StatusOK {
		t.Fatalf("first viewer: %d", code)
	}
	if code, _ := admit(); code != http.StatusServiceUnavailable {
		t.Fatalf("second viewer while the first is held and counted: %d, want 503", code)
	}
	first.Release()
	first.Release() // twice is harmless: it gives back one place, not two
	code, second := admit()
	if code != http.StatusOK {
		t.Fatalf("after the release: %d", code)
	}
	if code, _ := admit(); code != http.StatusServiceUnavailable {
		t.Fatalf("a second Release gave back a place it did not hold: %d, want 503", code)
	}
	second.Release()
	var none *Admission
	none.Release() // no guard in front: nothing to give back
}
