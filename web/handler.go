package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/flvedge/flvedge/auth"
)

// NewHandler returns the server's routes: live streams at /{app}/{stream}.flv.
func NewHandler(live *Live) http.Handler { return NewGuardedHandler(live, nil, CORS{}) }

// NewGuardedHandler is NewHandler with guard's access rules in front of
// every play route (nil: none), cors's answers to other sites' pages, and
// mounts (VOD roots) among the play routes. The play routes have a mux of their own behind the guard, so that
// they are routed after the guard has taken an in-path token
// (/TOKEN/EXPIRES/live/x.flv) off the path; preflights pass unguarded, as
// browsers send them without credentials.
func NewGuardedHandler(live *Live, guard *auth.Guard, cors CORS, mounts ...Mount) http.Handler {
	play := http.NewServeMux()
	play.Handle("GET /{app}/{file}", live)
	mux := http.NewServeMux()
	mux.Handle("GET /", guarded(guard, mounted(mounts, play)))
	mux.HandleFunc("OPTIONS /", preflight)
	return cors.wrap(mux)
}

// CORS says what pages on other sites may read. mpegts.js fetches
// cross-origin; after a redirect the browser sends "Origin: null", which
// "*" answers like any other origin.
type CORS struct {
	// CredentialOrigins (scheme://host[:port]) may read with the visitor's
	// cookies and HTTP authentication. Every other origin reads without:
	// a page anywhere must not read, in a visitor's name and from its
	// address, what cookies or IP rules protect.
	CredentialOrigins []string
}

// wrap answers with the CORS headers before next.
func (c CORS) wrap(next http.Handler) http.Handler {
	trusted := c.origins()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if origin := r.Header.Get("Origin"); origin != "" && trusted.trusts(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		} else {
			h.Set("Access-Control-Allow-Origin", "*")
		}
		if len(c.CredentialOrigins) > 0 {
			// The answer depends on Origin: caches must keep one per origin.
			h.Add("Vary", "Origin")
		}
		h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range")
		next.ServeHTTP(w, r)
	})
}

// origins is CredentialOrigins without the entries that are no origin
// (CheckCredentialOrigin), which the config refuses: a caller that gives
// them to web directly must not trust "null", the origin of every
// sandboxed or redirected page, by mistake.
func (c CORS) origins() CORS {
	var ok []string
	for _, o := range c.CredentialOrigins {
		if CheckCredentialOrigin(o) == nil {
			ok = append(ok, o)
		}
	}
	return CORS{CredentialOrigins: ok}
}

// trusts reports whether origin is one of CredentialOrigins; scheme and
// host compare without case, as browsers send them in lower case anyway.
func (c CORS) trusts(origin string) bool {
	return slices.ContainsFunc(c.CredentialOrigins, func(o string) bool {
		return strings.EqualFold(strings.TrimSuffix(o, "/"), origin)
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
