package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/relay"
)

func TestAdminChecksHost(t *testing.T) {
	hub := relay.NewHub(relay.Config{})
	t.Cleanup(hub.Close)
	const token = "0123456789abcdef0123"
	h := NewAdminHandler(hub, prometheus.NewRegistry(), AdminAccess{Token: token, Hosts: []string{"Metrics.Internal"}}, func() bool { return true })
	ask := func(method, path, host string, header ...string) int {
		req := httptest.NewRequest(method, path, nil)
		req.Host = host
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, host := range []string{"127.0.0.1:9090", "localhost:9090", "LOCALHOST", "[::1]:9090", "10.0.0.5:9090", "metrics.internal:9090", "metrics.internal.", ""} {
		for _, path := range []string{"/metrics", "/api/streams"} {
			if code := ask(http.MethodGet, path, host); code != http.StatusOK {
				t.Errorf("GET %s with Host %q: %d, want 200", path, host, code)
			}
		}
	}
	// A page's own DNS name that points to the listener (DNS rebinding).
	for _, host := range []string{"attacker.example", "attacker.example:9090", "localhost.attacker.example", "127.0.0.1.nip.io"} {
		for _, path := range []string{"/metrics", "/api/streams", "/api/streams/live/a"} {
			if code := ask(http.MethodGet, path, host); code != http.StatusMisdirectedRequest {
				t.Errorf("GET %s with Host %q: %d, want 421", path, host, code)
			}
		}
		if code := ask(http.MethodDelete, "/api/streams/live/a", host); code != http.StatusMisdirectedRequest {
			t.Errorf("DELETE with Host %q: %d, want 421", host, code)
		}
		// The probes answer anyone; the token passes the check.
		for _, path := range []string{"/healthz", "/readyz"} {
			if code := ask(http.MethodGet, path, host); code != http.StatusOK {
				t.Errorf("GET %s with Host %q: %d, want 200", path, host, code)
			}
		}
		if code := ask(http.MethodGet, "/metrics", host, "Authorization", "Bearer "+token); code != http.StatusOK {
			t.Errorf("GET /metrics with Host %q and the token: %d, want 200", host, code)
		}
		if code := ask(http.MethodGet, "/metrics", host, "Authorization", "Bearer wrong-token-0123456"); code != http.StatusMisdirectedRequest {
			t.Errorf("GET /metrics with Host %q and a wrong token: %d, want 421", host, code)
		}
	}
	// DELETE needs the token on an allowed host too.
	if code := ask(http.MethodDelete, "/api/streams/live/a", "127.0.0.1:9090"); code != http.StatusForbidden {
		t.Errorf("DELETE without the token: %d, want 403", code)
	}
	if code := ask(http.MethodDelete, "/api/streams/live/a", "127.0.0.1:9090", "Authorization", "Bearer "+token); code != http.StatusNotFound {
		t.Errorf("DELETE of no stream with the token: %d, want 404", code)
	}
}
