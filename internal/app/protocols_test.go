package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/web"
)

// secureServer starts an ingest with an HTTPS listener (HTTP/2, HTTP/3) on
// a self-signed certificate, and clients for the three protocols that
// trust it.
func secureServer(t *testing.T, edit func(*config.Config)) (*testServer, map[string]*http.Client) {
	t.Helper()
	s := startServer(t, Ingest, func(c *config.Config) {
		c.HTTPSListen = "127.0.0.1:0"
		c.TLS.HTTP3 = true
		if edit != nil {
			edit(c)
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(s.web.Certificate().Leaf)
	return s, protocolClients(t, &tls.Config{RootCAs: pool})
}

// protocolClients are clients of the three protocols, by the name of each
// in responses: HTTP/1.1 (for the plain listener), HTTP/2 and HTTP/3 (for
// the HTTPS one, with tlsConfig).
func protocolClients(t *testing.T, tlsConfig *tls.Config) map[string]*http.Client {
	// Each transport gets its own copy: the HTTP/2 one writes to its.
	h2 := &http.Transport{TLSClientConfig: tlsConfig.Clone(), ForceAttemptHTTP2: true}
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetHTTP2(true)
	h3 := &http3.Transport{TLSClientConfig: tlsConfig.Clone()}
	t.Cleanup(func() {
		h2.CloseIdleConnections()
		h3.Close()
	})
	return map[string]*http.Client{
		"HTTP/1.1": http.DefaultClient,
		"HTTP/2.0": {Transport: h2},
		"HTTP/3.0": {Transport: h3},
	}
}

func (s *testServer) secureURL(stream string) string {
	return "https://" + s.web.HTTPSAddr().String() + "/live/" + stream + ".flv"
}

// protoURL is where a client of proto (a key of protocolClients) plays a
// stream: HTTP/1.1 on the plain listener, the others on the HTTPS one.
func (s *testServer) protoURL(proto, stream string) string {
	if proto == "HTTP/1.1" {
		return s.playURL(stream)
	}
	return s.secureURL(stream)
}

// readFLV reads the FLV header and n tags of a response over the given protocol.
func readProto(t *testing.T, client *http.Client, url, proto string, n int) (flv.Header, []flv.Tag) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("%s: %v", proto, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != proto {
		t.Fatalf("%s: %s over %s", proto, resp.Status, resp.Proto)
	}
	r := flv.NewReader(resp.Body)
	h, err := r.ReadHeader()
	if err != nil {
		t.Fatalf("%s: %v", proto, err)
	}
	tags := make([]flv.Tag, 0, n)
	for range n {
		tag, err := r.ReadTag()
		if err != nil {
			t.Fatalf("%s: tag %d: %v", proto, len(tags), err)
		}
		tags = append(tags, tag)
	}
	return h, tags
}

func TestOnlyAudioAndTokensOverEveryProtocol(t *testing.T) {
	const secret = "s3cret-s3cret"
	s, clients := secureServer(t, func(c *config.Config) { c.Access.SecureTokenSecrets = []string{secret} })
	// The token rule covers every path, so the demo is started without
	// waiting for it over HTTP.
	publishDemo(t, s)
	rule := auth.TokenRule{Scheme: auth.MD5, Secrets: []string{secret}}
	signed, err := rule.Sign("/live/demo.flv", time.Now().Add(time.Hour), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	for proto, client := range clients {
		base := s.protoURL(proto, "demo")
		resp, err := client.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s without a token: %s, want 403", proto, resp.Status)
		}
		h, tags := readProto(t, client, base+"?only_audio=1&"+signed.Query(), proto, 20)
		if h.HasVideo || !h.HasAudio {
			t.Fatalf("%s only_audio: header announces video %v, audio %v", proto, h.HasVideo, h.HasAudio)
		}
		for _, tag := range tags {
			if tag.Type == flv.TagVideo {
				t.Fatalf("%s only_audio: a video tag", proto)
			}
		}
	}
}

// TestEdgePullsOverHTTP2AndHTTP3 has edges pull from an HTTPS origin with a
// private CA, once over HTTP/2 and once over HTTP/3; the origin's request
// counts tell which protocol came.
func TestEdgePullsOverHTTP2AndHTTP3(t *testing.T) {
	origin, _ := secureServer(t, nil)
	startDemo(t, origin)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: origin.web.Certificate().Leaf.Raw}), 0o600)
	for _, tc := range []struct {
		http3 bool
		proto string
	}{{false, "h2"}, {true, "h3"}} {
		edge := startServer(t, Edge, func(c *config.Config) {
			fastUpstream(c, "https://"+origin.web.HTTPSAddr().String())
			// TLS and QUIC handshakes on a loaded machine need more than
			// the half second the other edge tests allow.
			c.Upstream.ConnectTimeout = 5 * time.Second
			c.Upstream.ViewerWait = 10 * time.Second
			c.Upstream.CA = ca
			c.Upstream.HTTP3 = tc.http3
		})
		rec := record(t, edge.playURL("demo"))
		rec.waitBytes(t, 20<<10)
		// A request is counted when it ends: the viewer leaves, the edge's
		// pull stops after its idle time, and the origin counts it.
		rec.stop()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, _ := value(scrape(t, origin), "flvedge_http_requests_total", map[string]string{"proto": tc.proto})
			if n >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the origin saw no %s request", tc.proto)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestCertificateReloadOnSIGHUP replaces the certificate files and sends
// SIGHUP: new connections get the new certificate.
func TestCertificateReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert := func() *x509.Certificate {
		cert, err := web.ReadCertificate("", "")
		if err != nil {
			t.Fatal(err)
		}
		key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw}), 0o600)
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600)
		return cert.Leaf
	}
	first := writeCert()
	cfg := filepath.Join(dir, "flvedge.yaml")
	os.WriteFile(cfg, []byte("viewers:\n  drain: 100ms\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Ingest, []string{"--config", cfg, "--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
			"--admin-listen", "", "--https-listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var addr string
	for deadline := time.Now().Add(time.Minute); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if u := printedURLs(stdout.String())["Play securely"]; u != "" {
			addr = strings.TrimPrefix(strings.Split(u, "/live/")[0], "https://")
		}
	}
	served := func() *big.Int {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	if served().Cmp(first.SerialNumber) != 0 {
		t.Fatal("the server does not serve the configured certificate")
	}
	second := writeCert()
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitLog(t, &stderr, "config reloaded")
	if served().Cmp(second.SerialNumber) != 0 {
		t.Fatal("after SIGHUP the server still serves the old certificate")
	}

	// A certificate file that does not load refuses the reload, with the
	// reason: the running certificate stays.
	os.WriteFile(certFile, []byte("not a certificate\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitLog(t, &stderr, "reload refused")
	if log := stderr.String(); !strings.Contains(log, `err="tls: `) {
		t.Fatalf("the refusal does not say the certificate is the reason:\n%s", log)
	}
	if served().Cmp(second.SerialNumber) != 0 {
		t.Fatal("after a refused reload the server no longer serves the running certificate")
	}
}
