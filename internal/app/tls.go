package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/web"
)

// certificate holds the HTTPS listener's certificate; a reload swaps it,
// and new handshakes take the new one while connections go on.
type certificate struct {
	current atomic.Pointer[tls.Certificate]
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// load reads the configured files, or makes a self-signed certificate for
// localhost when there are none (the demo).
func (c *certificate) load(cfg config.TLS) error {
	var cert tls.Certificate
	var err error
	if cfg.Cert == "" {
		cert, err = selfSigned()
	} else {
		cert, err = tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
	}
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.current.Store(&cert)
	return nil
}

// selfSigned makes a certificate for localhost, 127.0.0.1 and ::1, valid
// for a week: enough to try HTTP/2 and HTTP/3 on one machine.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"flvedge demo"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// startHTTPS serves the routes over TLS: HTTP/1.1 and HTTP/2 on TCP, and
// HTTP/3 on UDP at the same port, which the TCP responses advertise.
func (s *server) startHTTPS(cfg config.Config, logger *slog.Logger) error {
	if err := s.cert.load(cfg.TLS); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPSListen)
	if err != nil {
		return fmt.Errorf("https listen: %w", err)
	}
	ln = web.BatchListener(ln) // a viewer's TLS records leave in one write
	s.httpsLn = ln
	tlsConfig := &tls.Config{GetCertificate: s.cert.get, MinVersion: tls.VersionTLS12}
	routes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.handler.Load()).ServeHTTP(w, r) })
	var h http.Handler = routes
	if cfg.TLS.HTTP3 {
		udp, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			ln.Close()
			return fmt.Errorf("http3 listen: %w", err)
		}
		s.quicConn = udp
		s.http3 = &http3.Server{
			Handler:     routes,
			TLSConfig:   http3.ConfigureTLSConfig(tlsConfig),
			IdleTimeout: cfg.HTTPTimeouts.Idle,
			QUICConfig:  &quic.Config{MaxIncomingStreams: int64(s.perConn + web.StreamHeadroom)},
			ConnContext: func(ctx context.Context, _ *quic.Conn) context.Context { return web.WithConnViewers(ctx) },
		}
		go s.serve("http3", func() error { return s.http3.Serve(udp) })
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.http3.SetQUICHeaders(w.Header()) // Alt-Svc: h3 on this port
			routes.ServeHTTP(w, r)
		})
	}
	s.https = httpServer(h, cfg.HTTPTimeouts, logger)
	s.https.TLSConfig = tlsConfig
	s.limitStreams(s.https)
	go s.serve("https", func() error { return s.https.ServeTLS(ln, "", "") })
	logger.Info("https listening", "addr", ln.Addr().String(), "http3", cfg.TLS.HTTP3, "self_signed", cfg.TLS.Cert == "")
	return nil
}

// upstreamClient pulls from origins over HTTP/1.1 or HTTP/2, or over HTTP/3
// when configured, trusting the configured CAs beside the system's.
func upstreamClient(u config.Upstream) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if u.CA != "" {
		pem, err := os.ReadFile(u.CA)
		if err != nil {
			return nil, fmt.Errorf("upstream.ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream.ca: no certificate in %s", u.CA)
		}
		tlsConfig.RootCAs = pool
	}
	if u.HTTP3 {
		return &http.Client{Transport: &http3.Transport{
			TLSClientConfig: tlsConfig,
			QUICConfig:      &quic.Config{HandshakeIdleTimeout: u.ConnectTimeout, KeepAlivePeriod: 10 * time.Second},
		}}, nil
	}
	t := relay.UpstreamTransport(u.ConnectTimeout)
	t.TLSClientConfig = tlsConfig
	return &http.Client{Transport: t}, nil
}
