package h2

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves HTTP/2 connections. Its zero value serves with the
// defaults below; its fields must not change once it serves.
type Server struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS: a stream
	// opened beyond it is refused (REFUSED_STREAM) without a handler.
	// It also caps the handlers a connection may have running, those of
	// streams the client has reset included. 0: DefaultMaxConcurrentStreams.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize bounds a request's header list as RFC 9113 counts
	// it (SETTINGS_MAX_HEADER_LIST_SIZE). 0: DefaultMaxHeaderListSize.
	MaxHeaderListSize uint32
	// MaxRequestBodySize is the most a request's body may have, which is
	// also each stream's receive window: a body is never buffered beyond
	// it. A request that declares a longer body gets 413; a body that
	// turns out longer fails its handler's Read. 0: DefaultMaxRequestBodySize.
	MaxRequestBodySize int32
	// ReadHeaderTimeout bounds the time from the connection's start to the
	// client's preface and SETTINGS, and IdleTimeout the time a connection
	// stays without a stream. 0: those of the http.Server, as Configure
	// passes them, or none.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// WriteTimeout bounds each write to the connection: a client that
	// does not read for that long is cut off. 0: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger gets handler panics (other than http.ErrAbortHandler) and,
	// at debug level, connection errors. nil: slog.Default().
	Logger *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
}

// Defaults of Server's fields.
const (
	DefaultMaxConcurrentStreams = 250
	DefaultMaxHeaderListSize    = 64 << 10
	DefaultMaxRequestBodySize   = 64 << 10
	DefaultWriteTimeout         = 30 * time.Second
)

// Configure makes hs serve HTTP/2 over TLS with s: ALPN offers "h2" beside
// "http/1.1", and hs.Shutdown sends each connection a GOAWAY and waits for
// its streams. hs keeps its listener, TLS handshake and HTTP/1.1.
func (s *Server) Configure(hs *http.Server) {
	if hs.TLSNextProto == nil {
		hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	hs.TLSNextProto["h2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		ctx := context.Background()
		// http.Server's handler for ALPN connections carries the
		// connection's context (BaseContext, ConnContext) this way.
		if b, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = b.BaseContext()
		}
		s.serveConn(ctx, c, h, hs)
	}
	hs.RegisterOnShutdown(s.Shutdown)
}

// ServeConn serves HTTP/2 on c, whose TLS handshake (if any) is done and
// chose "h2", until the connection ends. Requests' contexts derive from
// ctx.
func (s *Server) ServeConn(ctx context.Context, c net.Conn, h http.Handler) {
	s.serveConn(ctx, c, h, nil)
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn, h http.Handler, hs *http.Server) {
	c := newConn(s, ctx, nc, h, hs)
	if !s.track(c) {
		_ = nc.Close()
		return
	}
	defer s.untrack(c)
	c.serve()
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown ends the connections gracefully: each gets a GOAWAY with the
// last stream it opened, its streams run to their ends, then it closes.
// New connections are closed at once. It does not wait (http.Server's
// Shutdown waits for the connections).
func (s *Server) Shutdown() {
	for _, c := range s.stop() {
		c.goAway()
	}
}

// Close closes every connection at once, and those that come after:
// beneath its TLS, so that a write waiting on a client that does not read
// fails at once. http.Server.Close does not: crypto/tls's Close would send
// its close_notify after the records the writer holds (see holder), and
// wait for them up to 5 s, for each such connection in turn. Call it
// before http.Server.Close.
func (s *Server) Close() {
	for _, c := range s.stop() {
		_ = c.raw.Close()
	}
}

// stop refuses new connections and returns those served.
func (s *Server) stop() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams == 0 {
		return DefaultMaxConcurrentStreams
	}
	return s.MaxConcurrentStreams
}

func (s *Server) maxHeaderListSize() uint32 {
	if s.MaxHeaderListSize == 0 {
		return DefaultMaxHeaderListSize
	}
	return s.MaxHeaderListSize
}

func (s *Server) maxBody() int32 {
	if s.MaxRequestBodySize <= 0 {
		return DefaultMaxRequestBodySize
	}
	return s.MaxRequestBodySize
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}
