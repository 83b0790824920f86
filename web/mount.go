package web

import (
	"net/http"
	"strings"
)

// Mount routes the requests under a URL path prefix to a handler of their
// own, such as a VOD root ("/vod" for /vod/film.flv). The handler gets the
// request as it came, path unchanged.
type Mount struct {
	Prefix  string // a clean path without a trailing slash: "/vod"
	Handler http.Handler
}

// mounted sends the requests under a mount's prefix to its handler, and
// the others to next. Mounts come first: a prefix such as "/vod" takes the
// requests that the live route /{app}/{stream}.flv would otherwise get for
// an app of that name. A ServeMux cannot hold both, as "/vod/" and
// "/{app}/{file}" both match /vod/x and neither is more specific.
func mounted(mounts []Mount, next http.Handler) http.Handler {
	if len(mounts) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range mounts {
			if rest, ok := strings.CutPrefix(r.URL.Path, m.Prefix); ok && (rest == "" || rest[0] == '/') {
				m.Handler.ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
