package load

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/flv"
)

const (
	// readBuffer is each viewer's one buffer. At 2 Mbit/s a viewer gets
	// about 8 KiB per video frame, so a read rarely fills it, and 3000
	// viewers cost 48 MiB.
	readBuffer  = 16 << 10
	dialTimeout = 10 * time.Second
	userAgent   = "flvedge-bench"
)

// target is where viewers go, worked out once for all of them.
type target struct {
	addr    string      // host:port to dial
	request []byte      // the request every viewer sends
	tls     *tls.Config // HTTP/1.1 over TLS; nil: plain
	// h2, set for HTTP/2, opens the viewers' streams with this package's
	// browser-like client (h2client.go).
	h2 *h2Pool
	// client, set for HTTP/3, makes the viewers' requests through
	// quic-go, which shares connections among viewers;
	// with perConn, each client from newTransport serves that many viewers
	// (1: each viewer has a client of its own), taken from groups.
	client       *http.Client
	perConn      int
	groups       *clientGroups
	newTransport func() http.RoundTripper
	url          string
}

// parseTarget works out where viewers go; perConn is Config.ViewersPerConn.
func parseTarget(rawURL, proto string, insecure bool, perConn int) (target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return target{}, err
	}
	if u.Hostname() == "" {
		return target{}, errors.New("URL has no host")
	}
	tlsConfig := &tls.Config{InsecureSkipVerify: insecure}
	var newTransport func() http.RoundTripper
	switch proto {
	case "", "h1":
	case "h2":
		if err := checkTLS(u); err != nil {
			return target{}, err
		}
		tlsConfig.ServerName = u.Hostname()
		tlsConfig.NextProtos = []string{"h2"}
		if perConn == 0 {
			perConn = h2MaxStreams
		}
		pool := &h2Pool{addr: net.JoinHostPort(u.Hostname(), cmp.Or(u.Port(), "443")), tls: tlsConfig,
			authority: u.Host, path: u.RequestURI(), perConn: perConn}
		return target{h2: pool}, nil
	case "h3":
		newTransport = func() http.RoundTripper {
			return &http3.Transport{TLSClientConfig: tlsConfig.Clone(), DisableCompression: true}
		}
	default:
		return target{}, fmt.Errorf("proto %q: h1, h2 or h3", proto)
	}
	if newTransport != nil {
		t := target{client: &http.Client{Transport: newTransport()}, perConn: perConn, groups: new(clientGroups), newTransport: newTransport, url: rawURL}
		return t, checkTLS(u)
	}
	port := u.Port()
	var viewerTLS *tls.Config
	switch u.Scheme {
	case "http":
		port = cmp.Or(port, "80")
	case "https":
		port = cmp.Or(port, "443")
		viewerTLS = tlsConfig
		viewerTLS.ServerName = u.Hostname()
		viewerTLS.NextProtos = []string{"http/1.1"}
	default:
		return target{}, fmt.Errorf("scheme %q: http:// or https://", u.Scheme)
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUser-Agent: " + userAgent + "\r\nAccept: */*\r\n\r\n"
	return target{addr: net.JoinHostPort(u.Hostname(), port), request: []byte(req), tls: viewerTLS}, nil
}

func checkTLS(u *url.URL) error {
	if u.Scheme != "https" {
		return fmt.Errorf("scheme %q: HTTP/2 and HTTP/3 viewers need https://", u.Scheme)
	}
	return nil
}

// close ends the shared connections of HTTP/2 and HTTP/3 viewers.
func (t target) close() {
	if t.h2 != nil {
		t.h2.close()
	}
	if t.client != nil {
		closeTransport(t.client.Transport)
		t.groups.close()
	}
}

// clientGroups hands out clients that serve perConn viewers each, in the
// order the viewers come: the players of one page.
type clientGroups struct {
	mu      sync.Mutex
	current *http.Client
	used    int
	all     []http.RoundTripper
}

func (g *clientGroups) take(perConn int, newTransport func() http.RoundTripper) *http.Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.current == nil || g.used == perConn {
		rt := newTransport()
		g.all = append(g.all, rt)
		g.current, g.used = &http.Client{Transport: rt}, 0
	}
	g.used++
	return g.current
}

func (g *clientGroups) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rt := range g.all {
		closeTransport(rt)
	}
	g.all, g.current = nil, nil
}

func closeTransport(rt http.RoundTripper) {
	if c, ok := rt.(io.Closer); ok {
		c.Close()
	}
}

type viewerState int32

const (
	viewerIdle viewerState = iota
	viewerConnecting
	viewerReceiving
	viewerFailed
	viewerDone // was receiving when the run ended
)

// viewer is one HTTP-FLV client. Its goroutine is the only writer of its
// fields; the atomic ones are read while it runs, the others once it has
// returned.
type viewer struct {
	state    atomic.Int32 // a viewerState
	bytes    atomic.Int64 // FLV bytes received
	lastRecv atomic.Int64 // µs since the run began
	ttfk     atomic.Int64 // µs from joining to the first whole keyframe; 0 until then
	tsErrors atomic.Int64
	lag      liveHistogram
	ref      bool // plays Config.RefURL

	joined    int64 // µs since the run began
	ttfb      int64 // µs from joining to the first byte of the response; 0 until then
	unmatched int64 // tags whose publish time is unknown
	failure   string
	failErr   error

	chunked   bool
	remaining int64 // Content-Length left; -1 without one
	dec       chunkedDecoder
	scan      tagScanner
	last      [2]uint32 // previous timestamp of each track
	seen      [2]bool
}

// run watches the stream until ctx ends or the viewer fails.
func (v *viewer) run(ctx context.Context, r *runner) {
	v.joined = r.now()
	v.state.Store(int32(viewerConnecting))
	category, err := v.watch(ctx, r)
	if ctx.Err() != nil {
		if viewerState(v.state.Load()) == viewerReceiving {
			v.state.Store(int32(viewerDone))
			return
		}
		if category == "" || errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) {
			category, err = "no response before the end", errors.New("the run ended before the response")
		}
	}
	v.failure, v.failErr = category, err
	v.state.Store(int32(viewerFailed))
}

// watch returns why the viewer stopped: a failure category and its error.
func (v *viewer) watch(ctx context.Context, r *runner) (string, error) {
	target := r.target
	if v.ref {
		target = r.refTarget
	}
	if target.h2 != nil {
		return v.watchH2(ctx, r, target.h2)
	}
	if target.client != nil {
		return v.watchHTTP(ctx, r, target)
	}
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", target.addr)
	if err != nil {
		return dialFailure(err), err
	}
	defer conn.Close()
	// Ending the run closes the connection, which ends the blocked read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if target.tls != nil {
		tc := tls.Client(conn, target.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return "TLS handshake failed", err
		}
		conn = tc
	}
	if _, err := conn.Write(target.request); err != nil {
		return "request not sent", err
	}

	buf := make([]byte, readBuffer)
	body, category, err := v.readHead(conn, buf, r)
	if err != nil {
		return category, err
	}
	v.state.Store(int32(viewerReceiving))
	if v.remaining == 0 {
		return "ended by the server", errBodyEnded
	}
	if len(body) > 0 {
		if category, err := v.receive(body, r.now(), r); err != nil {
			return category, err
		}
	}
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if category, err := v.receive(buf[:n], r.now(), r); err != nil {
				return category, err
			}
		}
		if err != nil {
			return readFailure(err), err
		}
	}
}

// watchHTTP is watch for HTTP/3: the response comes through the shared
// client, its body without transport framing.
func (v *viewer) watchHTTP(ctx context.Context, r *runner, target target) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.url, nil)
	if err != nil {
		return "request not sent", err
	}
	req.Header.Set("User-Agent", userAgent)
	client := target.client
	switch {
	case target.perConn == 1:
		rt := target.newTransport()
		defer closeTransport(rt)
		client = &http.Client{Transport: rt}
	case target.perConn > 1:
		client = target.groups.take(target.perConn, target.newTransport)
	}
	resp, err := client.Do(req)
	if err != nil {
		return dialFailure(err), err
	}
	defer resp.Body.Close()
	v.ttfb = max(r.now()-v.joined, 1)
	if resp.StatusCode != http.StatusOK {
		return "http status " + strconv.Itoa(resp.StatusCode), fmt.Errorf("status %d", resp.StatusCode)
	}
	v.remaining = -1
	v.lastRecv.Store(r.now())
	v.state.Store(int32(viewerReceiving))
	buf := make([]byte, readBuffer)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if category, err := v.receive(buf[:n], r.now(), r); err != nil {
				return category, err
			}
		}
		if err == io.EOF {
			return "ended by the server", errBodyEnded
		}
		if err != nil {
			return readFailure(err), err
		}
	}
}

// readHead reads the response header and returns the body bytes that came
// with it, in buf.
func (v *viewer) readHead(conn net.Conn, buf []byte, r *runner) ([]byte, string, error) {
	head, body, category, err := readHead(conn, buf, func() { v.ttfb = max(r.now()-v.joined, 1) })
	if err != nil {
		return nil, category, err
	}
	if head.status != 200 {
		return nil, "http status " + strconv.Itoa(head.status), fmt.Errorf("status %d", head.status)
	}
	v.chunked, v.remaining = head.chunked, head.length
	v.lastRecv.Store(r.now())
	return body, "", nil
}

// readHead reads a response header from conn into buf and returns it with
// the body bytes that came with it, in buf; on failure, a category and the
// error. firstByte is called when the first bytes arrive.
func readHead(conn net.Conn, buf []byte, firstByte func()) (responseHead, []byte, string, error) {
	filled := 0
	for {
		n, err := conn.Read(buf[filled:])
		if n > 0 && filled == 0 {
			firstByte()
		}
		filled += n
		if end := bytes.Index(buf[:filled], []byte("\r\n\r\n")); end >= 0 {
			head, err := parseResponseHead(buf[:end])
			if err != nil {
				return head, nil, "bad response header", err
			}
			return head, buf[end+4 : filled], "", nil
		}
		if err != nil {
			if err == io.EOF {
				return responseHead{}, nil, "closed before the response header", io.ErrUnexpectedEOF
			}
			return responseHead{}, nil, readFailure(err), err
		}
		if filled == len(buf) {
			return responseHead{}, nil, "bad response header", fmt.Errorf("response header over %d bytes", len(buf))
		}
	}
}

var errBodyEnded = errors.New("the server ended the response")

// receive takes the bytes of one read at time now. An error ends the viewer.
func (v *viewer) receive(p []byte, now int64, r *runner) (string, error) {
	v.lastRecv.Store(now)
	var got int64
	defer func() { v.bytes.Add(got) }()
	for len(p) > 0 {
		var data []byte
		switch {
		case v.chunked:
			var err error
			if data, p, err = v.dec.next(p); err != nil {
				return "bad chunked encoding", err
			}
		case v.remaining >= 0:
			data = p[:min(int64(len(p)), v.remaining)]
			v.remaining -= int64(len(data))
			p = p[len(data):]
		default:
			data, p = p, nil
		}
		got += int64(len(data))
		for len(data) > 0 {
			n, t, ok, err := v.scan.scan(data)
			if err != nil {
				return "bad FLV", err
			}
			data = data[n:]
			if ok {
				v.onTag(t, now, r)
			}
		}
		if v.chunked && v.dec.done() || v.remaining == 0 {
			return "ended by the server", errBodyEnded
		}
	}
	return "", nil
}

// onTag checks one whole tag received at now and counts its lag.
func (v *viewer) onTag(t tagInfo, now int64, r *runner) {
	track := flv.TrackOf(t.typ)
	if track == flv.NoTrack {
		return
	}
	if t.keyframe && v.ttfk.Load() == 0 {
		v.ttfk.Store(max(now-v.joined, 1))
	}
	if t.config {
		return
	}
	if v.seen[track] && t.ts < v.last[track] {
		v.tsErrors.Add(1)
	}
	v.last[track], v.seen[track] = t.ts, true

	var sent int64
	if r.publishing {
		var ok bool
		if sent, ok = r.clock.get(track, t.ts); !ok {
			v.unmatched++
			return
		}
	} else {
		sent = r.clock.firstSeen(track, t.ts, now)
	}
	// Tags from before the viewer came are the server's window, sent at
	// once to start the picture: their age says nothing of live delivery.
	if sent >= v.joined && r.measuring.Load() {
		v.lag.add(max(now-sent, 0))
	}
}

// responseHead is what a viewer or a reader needs of a response header.
type responseHead struct {
	status       int
	chunked      bool
	length       int64  // Content-Length; -1 without one
	close        bool   // the server closes the connection after this response
	contentRange string // as sent
	cacheStatus  string // X-Cache-Status, as sent
}

// parseResponseHead reads a response header without its final empty line.
func parseResponseHead(h []byte) (responseHead, error) {
	line, rest, _ := bytes.Cut(h, []byte("\r\n"))
	proto, statusText, _ := bytes.Cut(line, []byte(" "))
	code, _, _ := bytes.Cut(statusText, []byte(" "))
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(code) != 3 {
		return responseHead{}, fmt.Errorf("status line %q", line)
	}
	status := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return responseHead{}, fmt.Errorf("status line %q", line)
		}
		status = 10*status + int(c-'0')
	}
	// HTTP/1.0 closes unless asked not to; a reader never asks.
	head := responseHead{status: status, length: -1, close: string(proto) == "HTTP/1.0"}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return responseHead{}, fmt.Errorf("header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			codings := bytes.Split(value, []byte(","))
			if !bytes.EqualFold(bytes.TrimSpace(codings[len(codings)-1]), []byte("chunked")) || len(codings) > 1 {
				return responseHead{}, fmt.Errorf("transfer coding %q: only chunked is supported", value)
			}
			head.chunked = true
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return responseHead{}, fmt.Errorf("Content-Length %q", value)
			}
			head.length = n
		case bytes.EqualFold(name, []byte("Connection")):
			for _, option := range bytes.Split(value, []byte(",")) {
				if bytes.EqualFold(bytes.TrimSpace(option), []byte("close")) {
					head.close = true
				}
			}
		case bytes.EqualFold(name, []byte("Content-Range")):
			head.contentRange = string(value)
		case bytes.EqualFold(name, []byte("X-Cache-Status")):
			head.cacheStatus = string(value)
		}
	}
	if head.chunked {
		head.length = -1 // chunked framing wins, as RFC 9112 says
	}
	return head, nil
}

// dialFailure names why a connection could not be made.
func dialFailure(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "dial: connection refused"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "dial: out of file descriptors (here)"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "dial: out of local ports"
	case errors.As(err, &ne) && ne.Timeout():
		return "dial: timeout"
	}
	return "dial: other error"
}

// readFailure names why a connection ended while reading.
func readFailure(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "closed by the server"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset by the server"
	}
	return "read error"
}
