// Package rtmp is an RTMP server that encoders (OBS, ffmpeg, GStreamer,
// hardware encoders) publish live streams to. It speaks the plain and the
// digest handshake, reassembles chunk streams, answers the AMF0 commands of a
// publish session and hands each publisher's audio, video and script data
// to a Sink as flv tags. [Dial] is the other side: a client that publishes
// flv tags to any RTMP server.
//
// The layers are kept apart so each can be tested alone: the handshake, the
// chunk stream ([ChunkReader], [ChunkWriter], usable without the server), the
// commands, and the connections of a [Server]. Every byte from the network is
// treated as hostile: messages are bounded in size, buffers grow only as data
// arrives, and any violation closes that one connection with one log line,
// at a bounded rate per source address.
package rtmp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/ratelog"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultOutChunkSize     = 4096
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 30 * time.Second
)

// Bad input from one address is logged this often at most, after a burst.
const (
	warnEvery = 10 * time.Second
	warnBurst = 5
)

// Server accepts RTMP connections and passes publish requests to its
// Handler. Set the fields before calling Serve and do not change them after.
type Server struct {
	Handler        Handler
	Logger         *slog.Logger // nil means slog.Default()
	MaxMessageSize uint32       // largest media message accepted from a publisher; 0 means DefaultMaxMessageSize
	// MaxCommandSize is the largest message of any other type (commands,
	// data, control), and of any type before a publish is accepted; 0 means
	// DefaultMaxCommandSize.
	MaxCommandSize   uint32
	ChunkSize        uint32        // chunk size we send with; 0 (or over 2^31-1) means DefaultOutChunkSize
	HandshakeTimeout time.Duration // for the handshake and the connect command; 0 means DefaultHandshakeTimeout
	IdleTimeout      time.Duration // longest silence once connected; 0 means DefaultIdleTimeout
	// MaxConns caps the connections at once, MaxConnsPerClient those from
	// one client (an IPv4 address or an IPv6 /64); more are closed as soon
	// as they are accepted, before the handshake. 0: no cap.
	MaxConns          int
	MaxConnsPerClient int
	// Refused, if set, is called for each connection refused by a cap,
	// with the cap's name: "connections" or "connections_per_client".
	Refused func(limit string)

	initOnce sync.Once
	logger   *slog.Logger
	warnings *ratelog.Logger

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perClient map[netip.Prefix]int // connections by client, while MaxConnsPerClient is set
	wg        sync.WaitGroup
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.logger = s.Logger
		if s.logger == nil {
			s.logger = slog.Default()
		}
		s.warnings = ratelog.New(s.logger, warnEvery, warnBurst)
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.perClient = make(map[netip.Prefix]int)
	})
}

// Serve accepts connections on ln until Close, then returns nil. Any other
// failure of ln is returned, and limits that cannot work (checkLimits),
// with ln closed. Serve may be called for several listeners.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.checkLimits(); err != nil {
		ln.Close()
		return err
	}
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if !temporary(err) {
				s.mu.Lock()
				delete(s.listeners, ln)
				s.mu.Unlock()
				return fmt.Errorf("rtmp: accept: %w", err)
			}
			// Out of file descriptors or memory: wait for connections to
			// end instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn("rtmp accept", "err", err.Error(), "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		client := clientOf(nc.RemoteAddr())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		if limit, max := s.overLocked(client); limit != "" {
			s.mu.Unlock()
			s.refuse(nc, limit, max)
			continue
		}
		c := newConn(s, nc)
		c.client = client
		s.conns[c] = struct{}{}
		if s.MaxConnsPerClient > 0 {
			s.perClient[client]++
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.run(c)
	}
}

// overLocked names the cap one more connection from client would pass, if
// any, and its value.
func (s *Server) overLocked(client netip.Prefix) (string, int) {
	switch {
	case s.MaxConns > 0 && len(s.conns) >= s.MaxConns:
		return "connections", s.MaxConns
	case s.MaxConnsPerClient > 0 && s.perClient[client] >= s.MaxConnsPerClient:
		return "connections_per_client", s.MaxConnsPerClient
	}
	return "", 0
}

// refuse closes a connection beyond a cap at once: before the handshake
// there is no way to tell the client why, and the cheapest refusal is the
// point. The log says why, at a bounded rate per address.
func (s *Server) refuse(nc net.Conn, limit string, max int) {
	nc.Close()
	s.warn(nc.RemoteAddr(), "rtmp connection refused", "remote", nc.RemoteAddr().String(),
		"reason", fmt.Sprintf("over %d %s (limits.rtmp_%s)", max, limit, limit))
	if s.Refused != nil {
		s.Refused(limit)
	}
}

func (s *Server) run(c *conn) {
	defer s.wg.Done()
	c.close(c.serve())
	s.mu.Lock()
	delete(s.conns, c)
	if n := s.perClient[c.client] - 1; n > 0 {
		s.perClient[c.client] = n
	} else {
		delete(s.perClient, c.client)
	}
	s.mu.Unlock()
}

// clientOf is the client a connection counts against: its IPv4 address,
// or the /64 of its IPv6 address (one subscriber's network).
func clientOf(a net.Addr) netip.Prefix {
	var ip netip.Addr
	if tcp, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(tcp.IP)
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// Close stops the listeners and closes every connection, ending their
// sessions, and waits until their goroutines have returned.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.closed = true
	var errs []error
	for ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return errors.Join(errs...)
}

// RequestReconnect asks every connected client to reconnect, as enhanced
// RTMP lets a server do before it goes away: an onStatus
// NetConnection.Connect.ReconnectRequest with the tcUrl to come back to
// (empty: the same). Clients that do not know it carry on until the
// connection closes, and reconnect then. It does not wait for them: each
// is sent from a goroutine of its own (Close waits for those), so that a
// client that reads nothing, whose write waits for the idle timeout,
// delays no other and not the caller (a drain).
func (s *Server) RequestReconnect(tcURL, description string) {
	s.init()
	info := statusInfo(levelStatus, "NetConnection.Connect.ReconnectRequest", description)
	if tcURL != "" {
		info = append(info, flv.Property{Key: "tcUrl", Value: tcURL})
	}
	m, err := onStatus(0, info)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for c := range s.conns {
		if !c.ready.Load() { // in the middle of a handshake
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// A write that fails ends nothing here: the connection's own
			// goroutine meets the same failure on its next write.
			_ = c.send(m)
		}()
	}
}

// Connections is the number of connections open now.
func (s *Server) Connections() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// warn logs bad input at a bounded rate per remote IP address, so that a
// flood of garbage, even from many ports, stays a trickle of log lines.
func (s *Server) warn(addr net.Addr, msg string, args ...any) {
	source := addr.String()
	if a, ok := addr.(*net.TCPAddr); ok {
		source = a.IP.String()
	}
	s.warnings.Warn(source, msg, args...)
}

func (s *Server) maxCommandSize() uint32 {
	if s.MaxCommandSize == 0 {
		return DefaultMaxCommandSize
	}
	return s.MaxCommandSize
}

func (s *Server) chunkSize() uint32 {
	if s.ChunkSize == 0 || s.ChunkSize > maxChunkSize {
		return DefaultOutChunkSize
	}
	return s.ChunkSize
}

func (s *Server) handshakeTimeout() time.Duration {
	if s.HandshakeTimeout <= 0 {
		return DefaultHandshakeTimeout
	}
	return s.HandshakeTimeout
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return s.IdleTimeout
}

// temporary reports whether an Accept error will likely pass by itself.
func temporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}
