package vodcache

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parsers of what origins send: every byte is checked, nothing is
// trusted for its length.

// maxHeaderLen bounds the header values parsed here; longer ones are
// treated as absent (Cache-Control) or invalid (Content-Range).
const maxHeaderLen = 4096

// cacheControl is what Cache-Control says about storing a response.
type cacheControl struct {
	noStore bool // no-store or private: not kept
	noCache bool // kept, revalidated before every use
	maxAge  time.Duration
	hasAge  bool // max-age or s-maxage given; s-maxage wins
	sMaxAge bool
}

// parseCacheControl reads the directives that concern a shared cache.
// Unknown directives are ignored; a malformed number leaves its
// directive out, as RFC 9111 asks for max-age.
func parseCacheControl(values []string) cacheControl {
	var cc cacheControl
	for _, v := range values {
		if len(v) > maxHeaderLen {
			continue
		}
		for d := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "private":
				cc.noStore = true
			case "no-cache":
				cc.noCache = true
			case "max-age":
				if s, ok := parseSeconds(arg); ok && !cc.sMaxAge {
					cc.maxAge, cc.hasAge = s, true
				}
			case "s-maxage":
				if s, ok := parseSeconds(arg); ok {
					cc.maxAge, cc.hasAge, cc.sMaxAge = s, true, true
				}
			}
		}
	}
	return cc
}

// maxLifetime caps what an origin can ask for: a year, as RFC 9111's
// delta-seconds cap suggests for larger values.
const maxLifetime = 365 * 24 * time.Hour

func parseSeconds(s string) (time.Duration, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if s == "" || len(s) > 12 {
		if len(s) > 12 && strings.Trim(s, "0123456789") == "" {
			return maxLifetime, true
		}
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return min(time.Duration(n)*time.Second, maxLifetime), true
}

// lifetime is how long a response may be served without asking the
// origin again, and whether it may be stored at all.
func lifetime(h http.Header, now time.Time, def time.Duration) (time.Duration, bool) {
	cc := parseCacheControl(h.Values("Cache-Control"))
	switch {
	case cc.noStore:
		return 0, false
	case cc.noCache:
		return 0, true
	case cc.hasAge:
		return cc.maxAge, true
	}
	if e := h.Get("Expires"); e != "" {
		t, err := http.ParseTime(e)
		if err != nil {
			return 0, true // an invalid Expires means already expired
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return min(max(t.Sub(base), 0), maxLifetime), true
	}
	return def, true
}

var errContentRange = errors.New("bad Content-Range")

// parseContentRange reads "bytes FIRST-LAST/SIZE" of a 206 response; the
// size must be known ("*" is refused: a cache must know the file's size).
func parseContentRange(s string) (first, last, size int64, err error) {
	if len(s) > 100 {
		return 0, 0, 0, errContentRange
	}
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, errContentRange
	}
	rng, total, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, errContentRange
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, errContentRange
	}
	first, err1 := parseOffset(a)
	last, err2 := parseOffset(b)
	size, err3 := parseOffset(total)
	if err1 != nil || err2 != nil || err3 != nil || first > last || last >= size {
		return 0, 0, 0, errContentRange
	}
	return first, last, size, nil
}

func parseOffset(s string) (int64, error) {
	if s == "" || len(s) > 18 || strings.Trim(s, "0123456789") != "" {
		return 0, errContentRange
	}
	return strconv.ParseInt(s, 10, 64)
}
