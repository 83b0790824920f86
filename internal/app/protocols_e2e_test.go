//go:build e2e

package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/browsertest"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/web/player"
)

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

// TestPlayerPageOverHTTP3 has headless Chromium, forced to QUIC for the test
// origin and trusting its self-signed key, open the player page and play a
// live stream: the page must have come over h3 and frames be decoded.
func TestPlayerPageOverHTTP3(t *testing.T) {
	playSecurePage(t, "h3", func(addr string) []string {
		return []string{"--enable-quic", "--origin-to-force-quic-on=" + addr}
	})
}

// TestPlayerPageOverHTTP2 is the same over TCP, QUIC off: the page and its
// stream come over HTTP/2 over TLS, served by package h2.
func TestPlayerPageOverHTTP2(t *testing.T) {
	playSecurePage(t, "h2", func(string) []string { return []string{"--disable-quic"} })
}

// playSecurePage plays a live stream in the player page of a server's
// HTTPS origin, with Chromium's arguments for that origin, and wants the
// page to have come over proto and frames to be decoded.
func playSecurePage(t *testing.T, proto string, args func(addr string) []string) {
	t.Helper()
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
		ChromiumArgs: append(args(addr), "--ignore-certificate-errors-spki-list="+base64.StdEncoding.EncodeToString(spki[:])),
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
	if got.Proto != proto || got.Frames < 30 || len(got.Errors) > 0 {
		t.Fatalf("the page came over %q, %d frames decoded, errors %v; want %s and frames", got.Proto, got.Frames, got.Errors, proto)
	}
}
