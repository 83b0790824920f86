package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flvedge/flvedge/relay"
)

// corsOf asks h for a live stream and a preflight with Origin, and returns
// both answers' headers.
func corsOf(t *testing.T, cors CORS, origin string) (get, preflight http.Header) {
	t.Helper()
	hub := relay.NewHub(relay.Config{})
	s := &testServer{t: t, hub: hub, srv: httptest.NewServer(NewGuardedHandler(&Live{Hub: hub}, nil, cors))}
	t.Cleanup(func() {
		hub.Close()
		s.srv.Close()
	})
	s.publish("live", "a")
	s.gop(2)
	resp := s.get(t, "/live/a.flv", "Origin", origin)
	readTags(t, resp.Body, 3)
	req, _ := http.NewRequest(http.MethodOptions, s.srv.URL+"/live/a.flv", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	return resp.Header, pre.Header
}

func TestCORSWithoutCredentialsByDefault(t *testing.T) {
	for _, origin := range []string{"https://anywhere.example", "null"} {
		get, pre := corsOf(t, CORS{}, origin)
		for name, h := range map[string]http.Header{"GET": get, "OPTIONS": pre} {
			if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s from %s: Allow-Origin %q, Allow-Credentials %q; want * without credentials", name, origin,
					h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"))
			}
		}
	}
}

// TestCORSTrustsOnlyOrigins: entries that are no origin, which the
// config refuses (CheckCredentialOrigin), are trusted by no request when a
// caller gives them to web directly: "null" would hand the visitor's
// credentials to any sandboxed or redirected page.
func TestCORSTrustsOnlyOrigins(t *testing.T) {
	cors := CORS{CredentialOrigins: []string{"null", "NULL", "*", "https://player.example"}}
	for origin, trusted := range map[string]bool{"null": false, "*": false, "https://player.example": true} {
		get, pre := corsOf(t, cors, origin)
		for name, h := range map[string]http.Header{"GET": get, "OPTIONS": pre} {
			if got := h.Get("Access-Control-Allow-Credentials") == "true"; got != trusted {
				t.Errorf("%s from %s: Allow-Origin %q, Allow-Credentials %q; trusted %v, want %v", name, origin,
					h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), got, trusted)
			}
		}
	}
}

func TestCORSCredentialOrigins(t *testing.T) {
	cors := CORS{CredentialOrigins: []string{"https://Player.example", "http://localhost:3000"}}
	for origin, trusted := range map[string]bool{
		"https://player.example":        true,
		"http://localhost:3000":         true,
		"http://player.example":         false, // another scheme is another origin
		"https://player.example.evil":   false,
		"https://player.example:8443":   false,
		"null":                          false,
		"https://elsewhere.example.com": false,
	} {
		get, pre := corsOf(t, cors, origin)
		for name, h := range map[string]http.Header{"GET": get, "OPTIONS": pre} {
			wantOrigin, wantCred := "*", ""
			if trusted {
				wantOrigin, wantCred = origin, "true"
			}
			if h.Get("Access-Control-Allow-Origin") != wantOrigin || h.Get("Access-Control-Allow-Credentials") != wantCred {
				t.Errorf("%s from %s: Allow-Origin %q, Allow-Credentials %q; want %q, %q", name, origin,
					h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), wantOrigin, wantCred)
			}
			// The answer depends on Origin, whichever it is: a shared cache
			// must not give one origin's answer to another.
			if h.Get("Vary") != "Origin" {
				t.Errorf("%s from %s: Vary %q, want Origin", name, origin, h.Get("Vary"))
			}
		}
	}
}
