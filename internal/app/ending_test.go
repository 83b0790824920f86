//go:build e2e

package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

// curlViewer plays url with curl until the response ends.
type curlViewer struct {
	cmd    *exec.Cmd
	stderr strings.Builder
	exited chan struct{}
	err    error
}

func startCurl(t *testing.T, url string, args ...string) *curlViewer {
	t.Helper()
	c := &curlViewer{exited: make(chan struct{})}
	c.cmd = exec.Command(testutil.RequireTool(t, "curl", "curl"), append(append([]string{"-sS", "-o", os.DevNull}, args...), url)...)
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// ended waits for curl to exit and fails the test unless it exited 0: it
// read the whole response, the last chunk included (a cut one is exit 18).
func (c *curlViewer) ended(t *testing.T, name string) {
	t.Helper()
	select {
	case <-c.exited:
		if c.err != nil {
			t.Errorf("%s: curl %v: %s", name, c.err, c.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Errorf("%s: curl still playing", name)
	}
}

// waitEnd waits for a viewer's response to end and fails the test unless
// it ended cleanly: the body's read returned io.EOF.
func (v *viewer) waitEnd(t *testing.T, name string) {
	t.Helper()
	select {
	case <-v.ended:
		if v.err != io.EOF {
			t.Errorf("%s: the response ended with %v, want io.EOF", name, v.err)
		}
	case <-time.After(time.Minute):
		t.Errorf("%s: the response did not end", name)
	}
}

// TestDrainEndsEveryResponseCleanly runs the ingest as a process, with
// viewers on every protocol, and stops it with SIGTERM: at the end of the
// drain time every response ends as it should, before the process exits.
func TestDrainEndsEveryResponseCleanly(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "flvedge.yaml")
	if err := os.WriteFile(cfg, []byte("viewers:\n  drain: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "--config", cfg, "--demo", "--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--https-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), runAsCommand+"="+string(Ingest))
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	var out strings.Builder
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if strings.HasPrefix(lines.Text(), "Admin:") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	urls := printedURLs(out.String())
	plain := urls["Demo stream"]
	secure := strings.Replace(urls["Play securely"], "STREAM", "demo", 1)
	if plain == "" || !strings.HasPrefix(secure, "https://") {
		t.Fatalf("the command printed no URLs:\n%s\n%s", out.String(), stderr.String())
	}
	waitStream(t, plain)

	curls := map[string]*curlViewer{
		"HTTP/1.1":         startCurl(t, plain),
		"HTTP/1.0":         startCurl(t, plain, "--http1.0"),
		"HTTP/1.1 on TLS":  startCurl(t, secure, "-k", "--http1.1"),
		"HTTP/2 with curl": startCurl(t, secure, "-k", "--http2"),
	}
	// The demo's certificate is self-signed.
	viewers := map[string]*viewer{}
	for proto, client := range protocolClients(t, &tls.Config{InsecureSkipVerify: true}) {
		url := secure
		if proto == "HTTP/1.1" {
			url = plain
		}
		viewers[proto] = watchWith(t, client, url)
	}
	for _, v := range viewers {
		v.waitTags(t, 10)
	}
	waitViewers(t, strings.Replace(urls["Admin"], "/metrics", "/api/streams/live/demo", 1), len(curls)+len(viewers))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for name, c := range curls {
		c.ended(t, name)
	}
	for name, v := range viewers {
		v.waitEnd(t, name)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("the ingest exited with %v:\n%s", exitErr, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the ingest did not exit")
	}
}

// TestStreamEndIsCleanOnEveryProtocol ends a stream (its publisher goes,
// no grace period) under viewers on every protocol.
func TestStreamEndIsCleanOnEveryProtocol(t *testing.T) {
	s, clients := secureServer(t, func(c *config.Config) { c.Publish.Grace = 0 })
	pub, err := s.hub.Publish("live", "end", func() {})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan error, 1)
	go func() { fed <- playLoop(ctx, pub, mustDemoTags(t)) }()
	waitStream(t, s.playURL("end"))

	curls := map[string]*curlViewer{
		"HTTP/1.1 with curl": startCurl(t, s.playURL("end")),
		"HTTP/2 with curl":   startCurl(t, s.secureURL("end"), "-k", "--http2"),
	}
	viewers := map[string]*viewer{}
	for proto, client := range clients {
		viewers[proto] = watchWith(t, client, s.protoURL(proto, "end"))
		viewers[proto].waitTags(t, 10)
	}
	waitViewers(t, s.adminURL()+"/api/streams/live/end", len(curls)+len(viewers))
	cancel()
	if err := <-fed; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	pub.Close()
	for name, c := range curls {
		c.ended(t, name)
	}
	for name, v := range viewers {
		v.waitEnd(t, name)
	}
}

func mustDemoTags(t *testing.T) []flv.Tag {
	t.Helper()
	tags, err := readFLV(demoFLV)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

// waitViewers waits until the stats API at url counts n viewers.
func waitViewers(t *testing.T, url string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var info struct{ Viewers int }
		getJSON(t, url, &info)
		if info.Viewers == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d viewers, waited for %d", info.Viewers, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
