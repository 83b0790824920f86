package web

import (
	"net/http"

	"github.com/flvedge/flvedge/auth"
)

// NewHandler returns the server's routes: live streams at /{app}/{stream}.flv.
func NewHandler(live *Live) http.Handler { return NewGuardedHandler(live, nil) }

// NewGuardedHandler is NewHandler with guard's access rules in front of
// every play route (nil: none), and mounts (VOD roots) among the play
// routes. The play routes have a mux of their own behind the guard, so that
// they are routed after the guard has taken an in-path token
// (/TOKEN/EXPIRES/live/x.flv) off the path; preflights pass unguarded, as
// browsers send them without credentials.
func NewGuardedHandler(live *Live, guard *auth.Guard, mounts ...Mount) http.Handler {
	play := http.NewServeMux()
	play.Handle("GET /{app}/{file}", live)
	mux := http.NewServeMux()
	mux.Handle("GET /", guarded(guard, mounted(mounts, play)))
	mux.HandleFunc("OPTIONS /", preflight)
	return withCORS(mux)
}

// withCORS lets players on other origins read the responses. mpegts.js
// fetches cross-origin, and after a redirect the browser sends "Origin: null",
// which must be answered like any other origin.
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if origin := r.Header.Get("Origin"); origin != "" {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		} else {
			h.Set("Access-Control-Allow-Origin", "*")
		}
		h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range")
		next.ServeHTTP(w, r)
	})
}

// preflight answers the browser's OPTIONS before a cross-origin request that
// carries headers such as Range.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
		h.Set("Access-Control-Allow-Headers", asked)
	} else {
		h.Set("Access-Control-Allow-Headers", "Range, Origin, Accept")
	}
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}
