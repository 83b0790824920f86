package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/fnv"
	"maps"
	"math/big"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/browsertest"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/web"
	"github.com/flvedge/flvedge/web/player"
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

// fingerprints names each media tag by its type, time and content, from
// the first keyframe at or after ts.
func fingerprints(tags []flv.Tag, from uint32) []string {
	var out []string
	started := false
	for _, tag := range tags {
		if tag.Type == flv.TagScript || len(tag.Data) < 2 || tag.Data[1] == 0 {
			continue // metadata and sequence headers come at every start
		}
		if !started {
			started = tag.Type == flv.TagVideo && tag.Data[0]>>4 == 1 && tag.Timestamp >= from
		}
		if started {
			h := fnv.New64a()
			h.Write(tag.Data)
			out = append(out, fmt.Sprintf("%d@%d:%x", tag.Type, tag.Timestamp, h.Sum64()))
		}
	}
	return out
}

// Every protocol carries the same tags, written as they come (an idle
// server) and in batches of about 7 tags (a fixed wait of 100 ms): an HTTP/2
// or HTTP/3 viewer's batch leaves in one write, as an HTTP/1.1 viewer's.
func TestThreeProtocolsCarryTheSameTags(t *testing.T) {
	for _, wait := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run("wait "+wait.String(), func(t *testing.T) {
			s, clients := secureServer(t, func(c *config.Config) {
				c.Viewers.CoalesceMode, c.Viewers.Coalesce = "fixed", wait
			})
			threeProtocolsCarryTheSameTags(t, s, clients)
		})
	}
}

func threeProtocolsCarryTheSameTags(t *testing.T, s *testServer, clients map[string]*http.Client) {
	publishFFmpeg(t, s.rtmpURL("p"))
	waitStream(t, s.playURL("p"))

	// HTTP/1.1 over TLS too: its taken-over connection gathers each batch
	// into one TLS write.
	h1s := &http.Transport{TLSClientConfig: clients["HTTP/2.0"].Transport.(*http.Transport).TLSClientConfig.Clone()}
	h1s.Protocols = new(http.Protocols)
	h1s.Protocols.SetHTTP1(true)
	defer h1s.CloseIdleConnections()
	viewers := map[string]*http.Client{"HTTPS/1.1": {Transport: h1s}}
	maps.Copy(viewers, clients)

	var mu sync.Mutex
	var wg sync.WaitGroup
	results := map[string][]flv.Tag{}
	for name, client := range viewers {
		url, proto := s.protoURL(name, "p"), name
		if name == "HTTPS/1.1" {
			url, proto = s.secureURL("p"), "HTTP/1.1"
		}
		wg.Go(func() {
			_, tags := readProto(t, client, url, proto, 300)
			mu.Lock()
			results[name] = tags
			mu.Unlock()
		})
	}
	wg.Wait()
	// The viewers came one after the other, so they may have started at
	// different keyframes: compare from the latest start on.
	var from uint32
	for _, tags := range results {
		for _, tag := range tags {
			if tag.Type == flv.TagVideo && tag.Data[0]>>4 == 1 && tag.Data[1] == 1 {
				from = max(from, tag.Timestamp)
				break
			}
		}
	}
	want := fingerprints(results["HTTP/1.1"], from)
	for proto, tags := range results {
		got := fingerprints(tags, from)
		n := min(len(got), len(want))
		if n < 30 || fmt.Sprint(got[:n]) != fmt.Sprint(want[:n]) {
			t.Fatalf("%s received other tags than HTTP/1.1 (%d in common)", proto, n)
		}
	}
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

// TestCurlHTTP2PlaysAndFFmpegDecodes has Debian's curl fetch the stream over
// HTTP/2 for a few seconds, and ffmpeg decode what it saved.
func TestCurlHTTP2PlaysAndFFmpegDecodes(t *testing.T) {
	s, _ := secureServer(t, nil)
	publishFFmpeg(t, s.rtmpURL("c"))
	waitStream(t, s.playURL("c"))
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	saved := filepath.Join(dir, "saved.flv")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.web.Certificate().Leaf.Raw})
	os.WriteFile(caFile, ca, 0o600)

	curl := exec.Command(testutil.RequireTool(t, "curl", "curl"), "--http2", "-s", "-S", "--cacert", caFile,
		"--max-time", "4", "-o", saved, "-w", "%{http_version}", s.secureURL("c"))
	out, err := curl.Output()
	// curl ends by its --max-time: exit code 28 is the expected end.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 28) {
		t.Fatalf("curl: %v %s", err, out)
	}
	if string(out) != "2" {
		t.Fatalf("curl used HTTP %q, want 2", out)
	}
	decode := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-v", "error", "-i", saved, "-map", "0:v", "-f", "framecrc", "-")
	var stdout, stderr bytes.Buffer
	decode.Stdout, decode.Stderr = &stdout, &stderr
	decode.Run()
	frames := bytes.Count(stdout.Bytes(), []byte("\n")) - bytes.Count(stdout.Bytes(), []byte("#"))
	// The last tag may be cut where curl stopped; everything before decodes.
	if frames < 60 || bytes.Count(stderr.Bytes(), []byte("\n")) > 2 {
		t.Fatalf("ffmpeg decoded %d frames of curl's HTTP/2 download; errors:\n%s", frames, stderr.String())
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

// TestPlayerPageOverHTTP3 has headless Chromium, forced to QUIC for the test
// origin and trusting its self-signed key, open the player page and play a
// live stream: the page must have come over h3 and frames be decoded.
func TestPlayerPageOverHTTP3(t *testing.T) {
	browsertest.Require(t)
	if !player.Embedded() {
		t.Fatal("this build has no mpegts.js for the player page: run npm ci in web/player (scripts/test.sh does)")
	}
	s, _ := secureServer(t, nil)
	publishFFmpeg(t, s.rtmpURL("q"))
	waitStream(t, s.playURL("q"))
	leaf := s.web.Certificate().Leaf
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	addr := s.web.HTTPSAddr().String()
	raw := browsertest.RunWith(t, "https://"+addr+"/player?url="+url.QueryEscape("/live/q.flv"), 3*time.Minute, browsertest.Options{
		ChromiumArgs: []string{
			"--enable-quic",
			"--origin-to-force-quic-on=" + addr,
			"--ignore-certificate-errors-spki-list=" + base64.StdEncoding.EncodeToString(spki[:]),
		},
		Result: `(() => {
			const stats = window.playerStats;
			if (!stats || !(stats.decodedFrames >= 30 || stats.errors.length)) return null;
			const nav = performance.getEntriesByType('navigation')[0];
			return {proto: nav && nav.nextHopProtocol, frames: stats.decodedFrames, errors: stats.errors};
		})()`,
	})
	var got struct {
		Proto  string
		Frames int
		Errors []any
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if got.Proto != "h3" || got.Frames < 30 || len(got.Errors) > 0 {
		t.Fatalf("the page came over %q, %d frames decoded, errors %v; want h3 and frames", got.Proto, got.Frames, got.Errors)
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
