package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/relay"
)

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
