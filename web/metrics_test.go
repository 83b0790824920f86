package web

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/relay"
)

// streamRequests reads flvedge_stream_requests_total by app, stream and
// class ("live/a 2xx").
func streamRequests(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	return counters(t, reg, "flvedge_stream_requests_total", func(l map[string]string) string {
		return l["app"] + "/" + l["stream"] + " " + l["class"]
	})
}

// counters reads the counters of a family by the key of their labels.
func counters(t *testing.T, reg *prometheus.Registry, name string, key func(labels map[string]string) string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			l := map[string]string{}
			for _, p := range m.Label {
				l[p.GetName()] = p.GetValue()
			}
			out[key(l)] = m.Counter.GetValue()
		}
	}
	return out
}

// requestsByProto reads flvedge_http_requests_total by class and protocol.
func requestsByProto(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	return counters(t, reg, "flvedge_http_requests_total", func(l map[string]string) string { return l["class"] + " " + l["proto"] })
}

func TestRequestsPerStreamCountedAtTheirEnd(t *testing.T) {
	var cfg auth.Config
	cfg.Play = []auth.Scope{{Prefix: "/private/", Token: &auth.TokenRule{Secrets: []string{"s3cret"}}}}
	g, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	hub := relay.NewHub(relay.Config{Grace: -1})
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, hub, 3)
	srv := httptest.NewUnstartedServer(m.CountRequests(NewGuardedHandler(&Live{Hub: hub}, g, CORS{})))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer hub.Close()
	h2 := srv.Client()
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h2.Transport.(*http.Transport).TLSClientConfig.RootCAs}}}
	defer h1.CloseIdleConnections()

	s := &testServer{t: t, hub: hub, srv: srv}
	s.publish("live", "a")
	s.gop(2)
	a := s.pub
	for _, name := range []string{"b", "c"} {
		s.publish("live", name)
	}
	s.publish("private", "p")
	do := func(client *http.Client, method, path string, want int) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
		return resp
	}
	// Viewers of live/a over HTTP/1.1 (its connection taken over) and
	// HTTP/2: not counted while they play.
	v1 := do(h1, http.MethodGet, "/live/a.flv", http.StatusOK)
	v2 := do(h2, http.MethodGet, "/live/a.flv", http.StatusOK)
	if v1.ProtoMajor != 1 || v2.ProtoMajor != 2 {
		t.Fatalf("protocols %s and %s", v1.Proto, v2.Proto)
	}
	readTags(t, v1.Body, 3)
	readTags(t, v2.Body, 3)
	do(h1, http.MethodGet, "/private/p.flv", http.StatusForbidden).Body.Close()
	do(h1, http.MethodHead, "/live/b.flv", http.StatusOK).Body.Close()
	do(h1, http.MethodGet, "/live/nothing.flv", http.StatusNotFound).Body.Close() // no stream's
	check := func(when string, want map[string]float64) {
		t.Helper()
		got := streamRequests(t, reg)
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", when, got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("%s: %v, want %v", when, got, want)
			}
		}
	}
	check("while live/a plays", map[string]float64{"private/p 4xx": 1, "live/b 2xx": 1})
	if got := requestsByProto(t, reg); got["2xx http1"] != 1 || got["2xx h2"] != 0 {
		t.Fatalf("while live/a plays: %v, want only live/b's HEAD in 2xx", got)
	}

	// The stream ends: both viewers are counted, once, with their status.
	a.Close()
	for _, v := range []*http.Response{v1, v2} {
		if _, err := io.Copy(io.Discard, v.Body); err != nil {
			t.Fatalf("%s: %v", v.Proto, err)
		}
		v.Body.Close()
	}
	deadline := time.Now().Add(time.Minute)
	for streamRequests(t, reg)["live/a 2xx"] != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after the end of live/a: %v, want 2 2xx for live/a", streamRequests(t, reg))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := requestsByProto(t, reg); got["2xx http1"] != 2 || got["2xx h2"] != 1 || got["4xx http1"] != 2 {
		t.Fatalf("after the end of live/a: %v", got)
	}
	// The scrape that sent live/a's last counts forgot the stream, which
	// is gone: its place is free. Three streams have series of their own;
	// a fourth adds to _other.
	s.publish("live", "d")
	do(h1, http.MethodHead, "/live/c.flv", http.StatusOK).Body.Close()
	do(h1, http.MethodHead, "/live/d.flv", http.StatusOK).Body.Close()
	check("after the end of live/a", map[string]float64{"private/p 4xx": 1, "live/b 2xx": 1, "live/c 2xx": 1, "live/_other 2xx": 1})
}

// A stream's request series outlives the stream while requests of it are
// open: a viewer that ends after its stream has gone and been scraped is
// counted in the same series, not in a new one that starts again from one
// (which a rate over the scrapes would never see). Once the last of them
// has ended and been scraped, the series goes. An aborted request (a
// panic that net/http recovers) is counted, as a 5xx when it answered
// nothing, and gives its series back too.
func TestStreamSeriesKeptWhileItsRequestsAreOpen(t *testing.T) {
	hub := relay.NewHub(relay.Config{Grace: -1})
	defer hub.Close()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, hub, 3)
	s := &testServer{t: t, hub: hub}
	s.publish("live", "a")
	entered, release := make(chan struct{}), make(chan struct{})
	h := m.CountRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		countStreamOf(r, "live", "a")
		switch r.URL.Query().Get("then") {
		case "wait":
			entered <- struct{}{}
			<-release
		case "abort":
			panic(http.ErrAbortHandler)
		}
	}))
	serve := func(query string) {
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				panic(p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/live/a.flv?"+query, nil))
	}
	serve("")
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve("then=wait")
	}()
	<-entered
	// End, not Close: the stream is gone from the hub at once (Close's
	// grace of -1 ends it in a timer's goroutine, after the next scrape
	// maybe); one viewer still plays.
	s.pub.End()
	if got := streamRequests(t, reg); got["live/a 2xx"] != 1 {
		t.Fatalf("while the second request is open: %v, want 1 for live/a", got)
	}
	close(release)
	<-done
	if got := streamRequests(t, reg); got["live/a 2xx"] != 2 {
		t.Fatalf("after the second request ended: %v, want 2 for live/a: its series was forgotten while it was open", got)
	}
	if got := streamRequests(t, reg); len(got) != 0 {
		t.Fatalf("after its last counts were scraped: %v, want live/a forgotten", got)
	}

	s.publish("live", "a")
	serve("then=abort")
	s.pub.End()
	if got := streamRequests(t, reg); got["live/a 5xx"] != 1 || len(got) != 1 {
		t.Fatalf("after an aborted request: %v, want it counted as a 5xx: it answered nothing", got)
	}
	if got := streamRequests(t, reg); len(got) != 0 {
		t.Fatalf("after its counts were scraped: %v, want live/a forgotten: the aborted request kept its series", got)
	}
}

// A stream named like the sum of the streams past the cap (OtherStreams)
// is counted in that sum: a series of its own under the sum's name would
// take a place among maxStreams that its end never gives back, and after
// maxStreams such streams had come and gone, every stream would be counted
// in the sum.
func TestStreamNamedOtherStreamsTakesNoOwnSeries(t *testing.T) {
	hub := relay.NewHub(relay.Config{Grace: -1})
	defer hub.Close()
	reg := prometheus.NewRegistry()
	h := NewMetrics(reg, hub, 1).CountRequests(NewHandler(&Live{Hub: hub}))
	s := &testServer{t: t, hub: hub}
	head := func(path string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("HEAD %s: %d", path, rec.Code)
		}
	}
	for range 2 {
		s.publish("live", OtherStreams)
		head("/live/" + OtherStreams + ".flv")
		s.pub.End()
		streamRequests(t, reg) // sends its counts and forgets it
	}
	s.publish("live", "b")
	head("/live/b.flv")
	if got := streamRequests(t, reg); got["live/b 2xx"] != 1 {
		t.Fatalf("%v, want live/b in a series of its own", got)
	}
}
