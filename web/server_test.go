package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/relay"
)

// site is a Server with every listener (HTTP, HTTPS with HTTP/3, admin)
// serving the live handler over a hub, with request metrics, one
// publisher that the test drives, and clients of the three protocols.
type site struct {
	*testServer
	srv     *Server
	live    *Live
	routes  http.Handler
	reg     *prometheus.Registry
	clients map[string]*http.Client // by the protocol's name in responses
}

func newSite(t *testing.T, edit func(*ServerConfig)) *site {
	t.Helper()
	hub := relay.NewHub(relay.Config{Grace: -1})
	live := &Live{Hub: hub}
	reg := prometheus.NewRegistry()
	cfg := ServerConfig{HTTPListen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0", HTTP3: true,
		AdminListen: "127.0.0.1:0", Admin: http.NotFoundHandler(), MaxViewersPerConn: 10, Live: live}
	if edit != nil {
		edit(&cfg)
	}
	live.SetLimits(Limits{MaxViewersPerConn: cfg.MaxViewersPerConn})
	s := &site{testServer: &testServer{t: t, hub: hub}, srv: NewServer(cfg), live: live, reg: reg,
		routes: NewMetrics(reg, hub, 10).CountRequests(NewHandler(live))}
	s.srv.Reload(s.routes, nil)
	if err := s.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.srv.Close()
		hub.Close()
	})
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate().Leaf)
	h1 := &http.Transport{}
	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetHTTP2(true)
	h3 := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(func() {
		h1.CloseIdleConnections()
		h2.CloseIdleConnections()
		h3.Close()
	})
	s.clients = map[string]*http.Client{"HTTP/1.1": {Transport: h1}, "HTTP/2.0": {Transport: h2}, "HTTP/3.0": {Transport: h3}}
	return s
}

func (s *site) secureURL(stream string) string {
	return "https://" + s.srv.HTTPSAddr().String() + "/live/" + stream + ".flv"
}

func (s *site) playURL(stream string) string {
	return "http://" + s.srv.HTTPAddr().String() + "/live/" + stream + ".flv"
}

// play starts a viewer of live/a over proto: HTTP/1.1 on the plain
// listener, the others on the HTTPS one.
func (s *site) play(proto string) *http.Response {
	s.t.Helper()
	url := s.secureURL("a")
	if proto == "HTTP/1.1" {
		url = s.playURL("a")
	}
	resp, err := s.clients[proto].Get(url)
	if err != nil {
		s.t.Fatalf("%s: %v", proto, err)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Proto != proto {
		s.t.Fatalf("%s: %s over %s", proto, resp.Status, resp.Proto)
	}
	return resp
}

// TestListenersTakeTheConfiguredTimeouts: every listener has the header
// and idle timeouts of the config, and none bounds a whole response.
func TestListenersTakeTheConfiguredTimeouts(t *testing.T) {
	s := newSite(t, func(c *ServerConfig) { c.ReadHeaderTimeout, c.IdleTimeout = 3*time.Second, 42*time.Second })
	for name, srv := range map[string]*http.Server{"http": s.srv.http, "https": s.srv.https, "admin": s.srv.admin} {
		if srv.ReadHeaderTimeout != 3*time.Second || srv.IdleTimeout != 42*time.Second {
			t.Errorf("%s: header timeout %v, idle %v", name, srv.ReadHeaderTimeout, srv.IdleTimeout)
		}
		if srv.ReadTimeout != 0 || (srv.WriteTimeout != 0 && name != "admin") {
			t.Errorf("%s: read timeout %v, write timeout %v would cut live responses", name, srv.ReadTimeout, srv.WriteTimeout)
		}
	}
	if s.srv.http3.IdleTimeout != 42*time.Second {
		t.Errorf("http3: idle %v", s.srv.http3.IdleTimeout)
	}
}

// TestViewersCountedAlikeOnEveryProtocol: a viewer over HTTP/1.1 (its
// connection taken over, its handler returned), HTTP/2 and HTTP/3 counts
// as one viewer of the server and of its stream while it plays, and its
// request is counted once, when its session ends, on every protocol.
func TestViewersCountedAlikeOnEveryProtocol(t *testing.T) {
	s := newSite(t, nil)
	s.publish("live", "a")
	s.gop(3)
	stream := s.hub.Lookup("live", "a")
	label := map[string]string{"HTTP/1.1": "2xx http1", "HTTP/2.0": "2xx h2", "HTTP/3.0": "2xx h3"}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0", "HTTP/3.0"} {
		resp := s.play(proto)
		readTags(t, resp.Body, 3)
		if s.live.Active() != 1 || stream.Viewers() != 1 {
			t.Fatalf("%s: %d viewers of the server, %d of the stream, want 1 and 1", proto, s.live.Active(), stream.Viewers())
		}
		if n := requestsByProto(t, s.reg)[label[proto]]; n != 0 {
			t.Fatalf("%s: the request counted %v times while it plays, want at its end", proto, n)
		}
		// The viewer hangs up; a client's cancel may reach the server only
		// with its next write, so tags go on until the session ends.
		resp.Body.Close()
		stop := make(chan struct{})
		published := make(chan struct{})
		go func() {
			defer close(published)
			for i := byte(0); ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				s.pub.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: s.ts + uint32(i)*40, Data: frame(i == 0, i)})
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // generous: an event, not a timing
		err := s.live.Wait(ctx)
		cancel()
		close(stop)
		<-published
		s.ts += 10000
		if err != nil {
			t.Fatalf("%s: the session did not end after the viewer hung up: %v", proto, err)
		}
		if stream.Viewers() != 0 {
			t.Fatalf("%s: the stream counts %d viewers after the session ended", proto, stream.Viewers())
		}
		if n := requestsByProto(t, s.reg)[label[proto]]; n != 1 {
			t.Fatalf("%s: the request counted %v times after the session ended, want once", proto, n)
		}
	}
}

// TestShutdownReturnsWhenTheLastViewerEnds drains a server with viewers
// over HTTP/1.1 and HTTP/2: they play on, Shutdown waits for them, and it
// returns once their stream ends their responses, cleanly.
func TestShutdownReturnsWhenTheLastViewerEnds(t *testing.T) {
	s := newSite(t, nil)
	s.publish("live", "a")
	s.gop(3)
	var viewers []*flv.Reader
	var bodies []io.Reader
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		resp := s.play(proto)
		r := flv.NewReader(resp.Body)
		if _, err := r.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		viewers, bodies = append(viewers, r), append(bodies, resp.Body)
	}
	readAll := func(n int) {
		t.Helper()
		for _, r := range viewers {
			for range n {
				if _, err := r.ReadTag(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	readAll(3)

	shut := make(chan error, 1)
	go func() { shut <- s.srv.Shutdown(context.Background()) }()
	cut, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.srv.Shutdown(cut); err != context.Canceled {
		t.Fatalf("Shutdown with an ended context while viewers play: %v, want context.Canceled", err)
	}
	if !s.srv.Draining() {
		t.Fatal("not draining")
	}
	s.gop(2)
	readAll(4) // the viewers play on
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while viewers play", err)
	default:
	}

	s.pub.End()
	for i, b := range bodies {
		if _, err := io.Copy(io.Discard, b); err != nil {
			t.Fatalf("viewer %d: its response ended with %v, want a clean end", i, err)
		}
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("Shutdown did not return after the last viewer ended")
	}
	if s.live.Active() != 0 {
		t.Fatalf("%d viewers after Shutdown", s.live.Active())
	}
}

// TestShutdownClosesEveryListener: once Shutdown returns, every address
// the server listened on, TCP and UDP, is free.
func TestShutdownClosesEveryListener(t *testing.T) {
	s := newSite(t, nil)
	tcp := []net.Addr{s.srv.HTTPAddr(), s.srv.HTTPSAddr(), s.srv.AdminAddr()}
	if err := s.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, a := range tcp {
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			t.Fatalf("%s still taken: %v", a, err)
		}
		ln.Close()
	}
	udp, err := net.ListenPacket("udp", s.srv.HTTPSAddr().String())
	if err != nil {
		t.Fatalf("HTTP/3's UDP port still taken: %v", err)
	}
	udp.Close()
	if s.srv.HTTPAddr() == nil {
		t.Fatal("the address of a closed listener forgotten")
	}
}

// TestStartOpensAllOrNothing: a listener that cannot be opened fails
// Start with its name, and leaves none of the others open.
func TestStartOpensAllOrNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	srv := NewServer(ServerConfig{HTTPListen: addr, AdminListen: taken.Addr().String(), Admin: http.NotFoundHandler()})
	if err := srv.Start(); err == nil || !strings.HasPrefix(err.Error(), "admin listen") {
		t.Fatalf("Start on a taken admin address: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the HTTP listener stayed open: %v", err)
	}
	ln.Close()
}

// TestReloadSwapsTheCertificate: new TLS handshakes get the certificate
// of the latest Reload; a file that cannot be read is an error that names
// TLS.
func TestReloadSwapsTheCertificate(t *testing.T) {
	s := newSite(t, nil)
	served := func() *big.Int {
		conn, err := tls.Dial("tcp", s.srv.HTTPSAddr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	if served().Cmp(s.srv.Certificate().Leaf.SerialNumber) != 0 {
		t.Fatal("the server does not serve its certificate")
	}
	next, err := ReadCertificate("", "")
	if err != nil {
		t.Fatal(err)
	}
	s.srv.Reload(s.routes, next)
	if served().Cmp(next.Leaf.SerialNumber) != 0 {
		t.Fatal("after Reload the server still serves the old certificate")
	}
	if _, err := ReadCertificate("/nonexistent/cert.pem", "/nonexistent/key.pem"); err == nil || !strings.HasPrefix(err.Error(), "tls:") {
		t.Fatalf("a missing certificate file: %v", err)
	}
}

// TestAltSvcAndH2C: the HTTPS listener advertises HTTP/3 on its port, and
// the plain one speaks cleartext HTTP/2 when asked to.
func TestAltSvcAndH2C(t *testing.T) {
	s := newSite(t, func(c *ServerConfig) { c.H2C = true })
	s.publish("live", "a")
	s.gop(3)
	resp, err := s.clients["HTTP/2.0"].Head(s.secureURL("a"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(s.srv.HTTPSAddr().String())
	if alt := resp.Header.Get("Alt-Svc"); !strings.Contains(alt, `h3=":`+port+`"`) {
		t.Fatalf("Alt-Svc %q does not advertise HTTP/3 on port %s", alt, port)
	}

	// Cleartext HTTP/2 on the plain listener, for trusted networks.
	h2c := &http.Transport{}
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()
	resp, err = (&http.Client{Transport: h2c}).Get(s.playURL("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("the plain listener answered over %s, want cleartext HTTP/2", resp.Proto)
	}
	readTags(t, resp.Body, 5)
}

// TestStuckHTTP2StreamSparesItsConnection multiplexes two viewers on one
// HTTP/2 connection and reads only one: the other's writes wait on its own
// flow-control window until its write timeout drops it, and the first plays
// on all the while.
//
// Only the stuck viewer may depend on the clock. The publisher of the
// stream that is read keeps what its viewer has not yet received well
// under the stream's window, so that the server's writes to it never wait
// on flow control, however late a loaded machine runs the reader; and the
// test waits for the reader to have everything before it closes.
func TestStuckHTTP2StreamSparesItsConnection(t *testing.T) {
	s := newSite(t, nil)
	s.live.SetLimits(Limits{WriteTimeout: time.Second, MaxViewersPerConn: 10})
	h2 := s.clients["HTTP/2.0"]
	pubs := map[string]*relay.Publisher{}
	for _, name := range []string{"stuck", "read"} {
		p, err := s.hub.Publish("live", name, func() {})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}})
		p.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}})
		pubs[name] = p
	}
	stuck, err := h2.Get(s.secureURL("stuck"))
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Body.Close()
	read, err := h2.Get(s.secureURL("read"))
	if err != nil {
		t.Fatal(err)
	}
	defer read.Body.Close()
	if stuck.Proto != "HTTP/2.0" || read.Proto != "HTTP/2.0" {
		t.Fatalf("protocols %s, %s", stuck.Proto, read.Proto)
	}
	reader := countReads(read.Body)

	// 8 MiB into each: more than the stuck stream's window (4 MiB in Go's
	// client) lets through.
	const frames, backlog = 256, 1 << 20
	frame := append([]byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41}, make([]byte, 32<<10)...)
	for i := 1; i <= frames; i++ {
		if err := reader.waitFor(int64(i*len(frame)-backlog), time.Minute); err != nil {
			t.Fatalf("before frame %d: %v", i, err)
		}
		for _, p := range pubs {
			if err := p.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: uint32(i * 40), Data: frame}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for s.hub.Lookup("live", "stuck").Viewers() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stuck HTTP/2 viewer was not dropped by its write timeout")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := reader.waitFor(frames*int64(len(frame)), time.Minute); err != nil {
		t.Fatalf("the viewer that reads beside a stuck stream: %v, want all %d frames", err, frames)
	}
	if s.hub.Lookup("live", "read").Viewers() != 1 {
		t.Fatal("the viewer that reads was dropped")
	}
}

// readCounter reads a body to its end in its own goroutine and tells how
// much has arrived.
type readCounter struct {
	mu       sync.Mutex
	n        int64
	err      error
	progress chan struct{} // closed and replaced at each read
}

func countReads(body io.Reader) *readCounter {
	c := &readCounter{progress: make(chan struct{})}
	go func() {
		buf := make([]byte, 256<<10)
		for {
			n, err := body.Read(buf)
			c.mu.Lock()
			c.n += int64(n)
			c.err = err
			close(c.progress)
			c.progress = make(chan struct{})
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// waitFor waits until at least n bytes have arrived. It fails if the body
// ends first, or if nothing arrives for the given time.
func (c *readCounter) waitFor(n int64, quiet time.Duration) error {
	for {
		c.mu.Lock()
		got, err, progress := c.n, c.err, c.progress
		c.mu.Unlock()
		switch {
		case got >= n:
			return nil
		case err != nil:
			return fmt.Errorf("%d bytes received, then %w", got, err)
		}
		select {
		case <-progress:
		case <-time.After(quiet):
			return fmt.Errorf("%d bytes received, then nothing for %v", got, quiet)
		}
	}
}
