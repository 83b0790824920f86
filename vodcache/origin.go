package vodcache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Origin is where the files under a URL path prefix come from.
type Origin struct {
	// Prefix is a clean URL path without a trailing slash, such as /vod.
	Prefix string
	// URLs are tried in order. As with nginx's proxy_pass, a URL without
	// a path gets the whole request path (/vod/a.flv from
	// http://origin:8080 is http://origin:8080/vod/a.flv), and a URL with
	// one has the prefix replaced by it (from http://origin/media it is
	// http://origin/media/a.flv).
	URLs []string
	// Header is sent with every request to these origins, and to no other.
	Header http.Header
}

type origin struct {
	prefix string
	bases  []base
	header http.Header
}

// base is an origin URL; replace says that it has a path, which takes
// the place of the prefix.
type base struct {
	*url.URL
	replace bool
}

// CheckOrigin reports what keeps o from being used.
func CheckOrigin(o Origin) error {
	_, err := newOrigin(o)
	return err
}

func newOrigin(o Origin) (origin, error) {
	if o.Prefix == "" || o.Prefix[0] != '/' || o.Prefix == "/" || strings.HasSuffix(o.Prefix, "/") || strings.Contains(o.Prefix, "//") || strings.Contains(o.Prefix, "/.") {
		return origin{}, fmt.Errorf("prefix %q: must be a clean path such as /vod", o.Prefix)
	}
	if len(o.URLs) == 0 {
		return origin{}, fmt.Errorf("prefix %s: no origin URL", o.Prefix)
	}
	out := origin{prefix: o.Prefix, header: o.Header.Clone()}
	for _, s := range o.URLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return origin{}, fmt.Errorf("prefix %s: %q is not an http:// or https:// URL without credentials, query or fragment", o.Prefix, s)
		}
		b := base{URL: u, replace: u.Path != ""}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = ""
		out.bases = append(out.bases, b)
	}
	for k := range out.header {
		if !validHeaderName(k) {
			return origin{}, fmt.Errorf("prefix %s: header %q: not a valid name", o.Prefix, k)
		}
		switch http.CanonicalHeaderKey(k) {
		case "Range", "If-None-Match", "If-Modified-Since", "Host", "Content-Length", "Transfer-Encoding", "Connection":
			return origin{}, fmt.Errorf("prefix %s: header %s is the cache's to set", o.Prefix, k)
		}
	}
	return out, nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// under returns the path of key under the prefix, "" when key is not
// under it.
func (o *origin) under(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, o.prefix)
	if !ok || rest == "" || rest[0] != '/' {
		return "", false
	}
	return rest, true
}

// target is the URL of key at base: its path from escaped segments.
func (o *origin) target(base base, key string) *url.URL {
	p := key
	if base.replace {
		rest, _ := o.under(key)
		p = base.Path + rest
	}
	var esc strings.Builder
	for i, seg := range strings.Split(p, "/") {
		if i > 0 {
			esc.WriteByte('/')
		}
		esc.WriteString(url.PathEscape(seg))
	}
	return &url.URL{Scheme: base.Scheme, Host: base.Host, Path: p, RawPath: esc.String()}
}

// StatusError is an origin's answer that is not stored, or the failure
// to get one: the viewer gets Status (4xx and 5xx as the origin sent
// them, 502 when no origin answered, 504 when they timed out).
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("origin: %d: %v", e.Status, e.Err)
	}
	return fmt.Sprintf("origin: %d %s", e.Status, http.StatusText(e.Status))
}

func (e *StatusError) Unwrap() error { return e.Err }

// HTTPStatus is the status the viewer gets.
func (e *StatusError) HTTPStatus() int { return e.Status }

// fetch sends a GET for key to the origins of o in order, with hdr, and
// returns the first answer that is not a failure: 2xx, 304 or 4xx.
func (c *Cache) fetch(ctx context.Context, o *origin, key string, hdr http.Header) (*http.Response, error) {
	var last error = &StatusError{Status: http.StatusBadGateway, Err: errors.New("no origin")}
	for _, base := range o.bases {
		u := o.target(base, key)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("origin request %s: %w", u.Redacted(), err)
		}
		for k, v := range o.header {
			req.Header[http.CanonicalHeaderKey(k)] = v
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", "flvedge-vodcache")
		c.count(o.prefix, func(s *prefixStats) { s.originRequests++ })
		resp, err := c.client.Do(req)
		switch {
		case err != nil:
			status := http.StatusBadGateway
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			last = &StatusError{Status: status, Err: err}
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.StatusCode != http.StatusNotModified:
			resp.Body.Close()
			last = &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("%s: redirect %d not followed", u.Redacted(), resp.StatusCode)}
		case resp.StatusCode >= 500:
			resp.Body.Close()
			last = &StatusError{Status: resp.StatusCode, Err: fmt.Errorf("%s answered %s", u.Redacted(), resp.Status)}
		default:
			return resp, nil
		}
		c.count(o.prefix, func(s *prefixStats) { s.originErrors++ })
		c.bad.Warn(base.Host, "vodcache: origin failed", "url", u.Redacted(), "err", last)
	}
	return nil, last
}

// idleBody ends a response body's request when no byte has come for
// timeout, so that a stalled origin costs a bounded wait.
type idleBody struct {
	body    interface{ Read([]byte) (int, error) }
	timer   *time.Timer
	timeout time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	return n, err
}
