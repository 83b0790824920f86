package web

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/h2"
)

// ServerConfig says what a Server listens on and how. What it holds is
// fixed at start; a Server's Reload changes its routes and certificate.
type ServerConfig struct {
	// HTTPListen is the address of the plain HTTP listener (HTTP/1.1, and
	// HTTP/2 without TLS with H2C).
	HTTPListen string
	H2C        bool
	// HTTPSListen serves the same routes over TLS: HTTP/1.1 and HTTP/2 on
	// TCP, and with HTTP3 also HTTP/3 on UDP at the same port, which the
	// TCP responses advertise (Alt-Svc). Empty: none.
	HTTPSListen string
	HTTP3       bool
	// CertFile and KeyFile (PEM) are read at Start unless Reload gave a
	// certificate before; an empty CertFile makes a self-signed one.
	CertFile, KeyFile string
	// AdminListen serves Admin (metrics, stats API, readiness) on a
	// listener of its own, so that it can stay on a private address; it
	// serves on while the others drain. Empty: none.
	AdminListen string
	Admin       http.Handler
	// ReadHeaderTimeout and IdleTimeout apply to every listener. There is
	// neither a read nor a write timeout: they would cut the endless
	// responses of live viewers, whose writes have deadlines of their own.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// MaxViewersPerConn is the cap of Limits.MaxViewersPerConn that the
	// HTTP/2 and HTTP/3 stream limits are made from (see streams.go).
	MaxViewersPerConn int
	// Live is the handler whose viewers Shutdown waits for; nil: none.
	Live   *Live
	Logger *slog.Logger // nil: slog.Default()
}

// Server serves the routes over HTTP/1.1, HTTP/2 and HTTP/3 and the admin
// handler on their listeners, which it owns: New, Reload (routes and
// certificate), Start, then Shutdown (drain) or Close. As with http.Server,
// its zero value is not ready for use; make one with NewServer.
type Server struct {
	cfg    ServerConfig
	logger *slog.Logger
	routes atomic.Pointer[http.Handler]
	cert   atomic.Pointer[tls.Certificate]

	http, https, admin       *http.Server // https, admin: nil without them
	http3                    *http3.Server
	h2                       *h2.Server // the HTTPS server's HTTP/2; nil without it
	httpLn, httpsLn, adminLn net.Listener
	quicConn                 net.PacketConn
	udpBuffersChecked        sync.Once // at the first HTTP/3 connection
	failed                   chan error
	draining                 atomic.Bool // Shutdown has begun
	closed                   atomic.Bool // Close has begun

	shutdownOnce, closeOnce sync.Once
	shutdownStarted         atomic.Bool
	shutdownCtx             context.Context // ends when Close cuts a Shutdown short
	cancelShutdown          context.CancelFunc
	shutdownDone            chan struct{}
}

// NewServer returns a server of cfg that serves nothing yet: Reload gives
// it its routes, Start its listeners.
func NewServer(cfg ServerConfig) *Server {
	s := &Server{cfg: cfg, logger: cfg.Logger, failed: make(chan error, 4),
		shutdownDone: make(chan struct{})}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.shutdownCtx, s.cancelShutdown = context.WithCancel(context.Background())
	var none http.Handler = http.NotFoundHandler()
	s.routes.Store(&none)
	return s
}

// Secure reports whether the server has an HTTPS listener, which takes
// the certificate of a Reload.
func (s *Server) Secure() bool { return s.cfg.HTTPSListen != "" }

// Reload puts routes in force for the requests that come from now on and,
// unless it is nil, cert for the TLS handshakes (see ReadCertificate);
// connections, listeners and viewers go on.
func (s *Server) Reload(routes http.Handler, cert *tls.Certificate) {
	if cert != nil {
		s.cert.Store(cert)
	}
	s.routes.Store(&routes)
}

// Handler serves the routes of the latest Reload, as the listeners do.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.routes.Load()).ServeHTTP(w, r) })
}

// Certificate is the certificate new TLS handshakes get.
func (s *Server) Certificate() *tls.Certificate { return s.cert.Load() }

func (s *Server) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

// Start listens on every configured address and serves. If a listener
// cannot be opened, none stays open.
func (s *Server) Start() error {
	if err := s.start(); err != nil {
		s.Close()
		return err
	}
	return nil
}

func (s *Server) start() (err error) {
	if s.Secure() && s.cert.Load() == nil {
		cert, err := ReadCertificate(s.cfg.CertFile, s.cfg.KeyFile)
		if err != nil {
			return err
		}
		s.cert.Store(cert)
	}
	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPListen); err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	if s.Secure() {
		if s.httpsLn, err = net.Listen("tcp", s.cfg.HTTPSListen); err != nil {
			return fmt.Errorf("https listen: %w", err)
		}
		s.httpsLn = newBatchListener(s.httpsLn) // a viewer's TLS records leave in one write
		if s.cfg.HTTP3 {
			if s.quicConn, err = net.ListenPacket("udp", s.httpsLn.Addr().String()); err != nil {
				return fmt.Errorf("http3 listen: %w", err)
			}
		}
	}
	if s.cfg.AdminListen != "" {
		if s.adminLn, err = net.Listen("tcp", s.cfg.AdminListen); err != nil {
			return fmt.Errorf("admin listen: %w", err)
		}
	}

	routes := s.Handler()
	s.http = s.newHTTPServer(routes)
	s.limitStreams(s.http)
	if s.cfg.H2C {
		s.http.Protocols = new(http.Protocols)
		s.http.Protocols.SetHTTP1(true)
		s.http.Protocols.SetUnencryptedHTTP2(true)
	}
	go s.serve("http", func() error { return s.http.Serve(s.httpLn) })
	if s.Secure() {
		s.startHTTPS(routes)
	}
	if s.adminLn != nil {
		s.admin = s.newHTTPServer(s.cfg.Admin)
		// Its responses are all short.
		s.admin.WriteTimeout = 30 * time.Second
		go s.serve("admin", func() error { return s.admin.Serve(s.adminLn) })
		s.logger.Info("admin listening", "addr", s.adminLn.Addr().String())
	}
	return nil
}

// startHTTPS serves routes over TLS: HTTP/1.1 and HTTP/2 on TCP, and
// HTTP/3 on UDP at the same port, which the TCP responses advertise.
func (s *Server) startHTTPS(routes http.Handler) {
	tlsConfig := &tls.Config{GetCertificate: s.getCertificate, MinVersion: tls.VersionTLS12}
	h := routes
	if s.quicConn != nil {
		s.http3 = &http3.Server{
			Handler:     routes,
			TLSConfig:   http3.ConfigureTLSConfig(tlsConfig),
			IdleTimeout: s.cfg.IdleTimeout,
			QUICConfig:  &quic.Config{MaxIncomingStreams: int64(s.cfg.MaxViewersPerConn + streamHeadroom)},
			ConnContext: func(ctx context.Context, _ *quic.Conn) context.Context {
				s.udpBuffersChecked.Do(func() { warnSmallUDPBuffers(s.logger, s.quicConn) })
				return withConnViewers(ctx)
			},
		}
		go s.serve("http3", func() error { return s.http3.Serve(s.quicConn) })
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.http3.SetQUICHeaders(w.Header()) // Alt-Svc: h3 on this port
			routes.ServeHTTP(w, r)
		})
	}
	s.https = s.newHTTPServer(h)
	s.https.TLSConfig = tlsConfig
	s.https.ConnContext = countConnViewers
	// HTTP/2 over TLS is package h2's, whose one writer per connection
	// sends the output of all its streams in one write; h2c on the plain
	// listener stays Go's (limitStreams).
	// Its write timeout, which also bounds a viewer's Write that writes
	// the connection's output itself, is a viewer's default one.
	s.h2 = &h2.Server{MaxConcurrentStreams: uint32(s.cfg.MaxViewersPerConn + streamHeadroom),
		WriteTimeout: defaultWriteTimeout, Logger: s.logger}
	s.h2.Configure(s.https)
	go s.serve("https", func() error { return s.https.ServeTLS(s.httpsLn, "", "") })
	s.logger.Info("https listening", "addr", s.httpsLn.Addr().String(), "http3", s.cfg.HTTP3, "self_signed", s.cfg.CertFile == "")
}

// newHTTPServer serves h with the listeners' timeouts (see ServerConfig).
func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

// limitStreams lets an HTTP/2 connection of srv open more streams than it
// may have live viewers, so that the excess viewers are refused rather than
// left waiting for a stream, and counts each connection's live viewers (see
// streams.go). The HTTPS server's HTTP/2 has the same limit (startHTTPS).
func (s *Server) limitStreams(srv *http.Server) {
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: s.cfg.MaxViewersPerConn + streamHeadroom}
	srv.ConnContext = countConnViewers
}

// countConnViewers is the ConnContext of the servers whose connections
// carry many viewers.
func countConnViewers(ctx context.Context, _ net.Conn) context.Context { return withConnViewers(ctx) }

// serve reports a listener that fails on its own; once the server drains
// or closes, errors are expected.
func (s *Server) serve(name string, serve func() error) {
	err := serve()
	if s.draining.Load() || s.closed.Load() {
		return
	}
	s.failed <- fmt.Errorf("%s: %w", name, err)
}

// Err reports a listener that failed on its own.
func (s *Server) Err() <-chan error { return s.failed }

// HTTPAddr, HTTPSAddr and AdminAddr are the listeners' addresses after
// Start; nil for a listener the server does not have.
func (s *Server) HTTPAddr() net.Addr  { return addrOf(s.httpLn) }
func (s *Server) HTTPSAddr() net.Addr { return addrOf(s.httpsLn) }
func (s *Server) AdminAddr() net.Addr { return addrOf(s.adminLn) }

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Draining reports whether Shutdown has begun: the server is no longer
// ready for new viewers.
func (s *Server) Draining() bool { return s.draining.Load() }

// endGrace is how long ended responses have to reach their clients before
// the connections close.
const endGrace = 3 * time.Second

// Shutdown drains the server without cutting viewers off: Draining turns
// true (readiness fails), the listeners of the routes close, HTTP/2 and
// HTTP/3 clients get a GOAWAY, the viewers connected play on and new ones
// are refused (503: a request already on its way). It returns when the
// last viewer's session has ended (Live.Wait) and the
// clients have closed their connections, at most endGrace after; the admin
// listener closes then. If ctx ends first, it returns ctx's error and the
// server goes on draining: the caller may end the remaining streams, so
// that their responses end properly, and call Shutdown again, or Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.shutdownOnce.Do(func() {
		s.shutdownStarted.Store(true)
		go s.shutdownServers()
	})
	if s.cfg.Live != nil {
		if err := s.cfg.Live.drain(ctx); err != nil {
			return err
		}
	}
	// The ends are written; give them and the GOAWAYs a moment to reach
	// the clients, which then close their connections.
	t := time.NewTimer(endGrace)
	defer t.Stop()
	select {
	case <-s.shutdownDone:
	case <-t.C:
	case <-ctx.Done():
	}
	s.Close()
	return nil
}

// shutdownServers closes the listeners of the routes and waits for the
// requests the servers track, until the server closes. HTTP/1.x viewers
// have taken their connections over; Live.Wait waits for them.
func (s *Server) shutdownServers() {
	defer close(s.shutdownDone)
	var wg sync.WaitGroup
	if s.https != nil {
		wg.Go(func() { _ = s.https.Shutdown(s.shutdownCtx) })
	}
	if s.http3 != nil {
		wg.Go(func() { _ = s.http3.Shutdown(s.shutdownCtx) })
	}
	if s.http != nil {
		_ = s.http.Shutdown(s.shutdownCtx)
	}
	wg.Wait()
}

// Close closes every listener and connection at once, taken-over
// HTTP/1.x connections excepted: their viewers' writes fail at their
// deadline, or end with their streams. It returns once the servers'
// shutdown that a Shutdown began has stopped; a Shutdown that waits for
// viewers goes on waiting, until they end or its ctx does.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cancelShutdown()
		if s.h2 != nil {
			s.h2.Close() // before s.https's: see h2.Server.Close
		}
		for _, srv := range []*http.Server{s.http, s.https, s.admin} {
			if srv != nil {
				_ = srv.Close()
			}
		}
		if s.http3 != nil {
			_ = s.http3.Close()
		}
		// The listeners, also those that Start opened but no server took.
		for _, c := range []io.Closer{s.httpLn, s.httpsLn, s.adminLn, s.quicConn} {
			if c != nil {
				_ = c.Close()
			}
		}
	})
	if s.shutdownStarted.Load() {
		<-s.shutdownDone
	}
}
