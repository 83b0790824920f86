package h2

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
)

var errMalformed = errors.New("h2: malformed request")

// newRequest makes the request of a HEADERS frame, whose fields the Framer
// has checked (pseudo-headers first and known, names in lower case, values
// without forbidden bytes); what it leaves is checked here (RFC 9113,
// 8.3.1 and 8.2.2). Its body and context are the caller's.
func (c *conn) newRequest(f *http2.MetaHeadersFrame) (*http.Request, error) {
	method, path := f.PseudoValue("method"), f.PseudoValue("path")
	scheme, authority := f.PseudoValue("scheme"), f.PseudoValue("authority")
	// CONNECT (and the extended CONNECT of :protocol, not offered) has no
	// place on this server.
	if method == "" || path == "" || scheme == "" || method == http.MethodConnect || f.PseudoValue("protocol") != "" {
		return nil, errMalformed
	}
	if path != "*" && path[0] != '/' || path == "*" && method != http.MethodOptions {
		return nil, errMalformed
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, errMalformed
	}
	fields := f.RegularFields()
	header := make(http.Header, len(fields))
	var cookies []string
	for _, hf := range fields {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return nil, errMalformed // connection-specific
		case "te":
			if hf.Value != "trailers" {
				return nil, errMalformed
			}
		case "cookie":
			// A client may split the cookie in crumbs (RFC 9113, 8.2.3).
			cookies = append(cookies, hf.Value)
			continue
		}
		key := http.CanonicalHeaderKey(hf.Name)
		header[key] = append(header[key], hf.Value)
	}
	if len(cookies) > 0 {
		header["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	// As net/http does, the Host header becomes Request.Host.
	if authority == "" {
		authority = header.Get("Host")
	}
	delete(header, "Host")
	contentLength := int64(-1)
	if f.StreamEnded() {
		contentLength = 0
	}
	if cl := header["Content-Length"]; len(cl) > 0 {
		n, err := strconv.ParseUint(cl[0], 10, 63)
		if err != nil || len(cl) > 1 || f.StreamEnded() && n != 0 {
			return nil, errMalformed
		}
		contentLength = int64(n)
	}
	return &http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        header,
		Host:          authority,
		RequestURI:    path,
		RemoteAddr:    c.remoteAddr,
		TLS:           c.tlsState,
		ContentLength: contentLength,
		Body:          http.NoBody,
	}, nil
}
