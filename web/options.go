package web

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseCoalesceMode reads a CoalesceMode by its name: adaptive or fixed.
func ParseCoalesceMode(s string) (CoalesceMode, error) {
	switch s {
	case "adaptive":
		return CoalesceAdaptive, nil
	case "fixed":
		return CoalesceFixed, nil
	}
	return 0, fmt.Errorf("coalesce mode %q is neither adaptive nor fixed", s)
}

// CheckMpegtsURL reports whether s can be Pages.MpegtsURL, the source of
// the player page's script: an http:// or https:// URL, or a path on this
// server ("/static/mpegts.js", so that an operator hosts the library
// without a CDN and without rebuilding). Anything else (javascript:, a
// scheme-relative //host) is no place to load a script from.
func CheckMpegtsURL(s string) error {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL, nor a path such as /static/mpegts.js", s)
	}
	return nil
}
