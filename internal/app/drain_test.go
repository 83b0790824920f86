package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
)

// runCommand runs the ingest command as a user would, and returns the URLs
// it prints, by their label.
func runCommand(t *testing.T, ctx context.Context, args ...string) (map[string]string, <-chan error) {
	t.Helper()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Ingest, args, &stdout, &stderr) }()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for {
		urls := printedURLs(stdout.String())
		if urls["Admin"] != "" && (urls["Demo stream"] != "" || !strings.Contains(strings.Join(args, " "), "--demo")) {
			return urls, done
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command printed no URLs; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// printedURLs reads the "Label: URL" lines a command prints.
func printedURLs(out string) map[string]string {
	urls := map[string]string{}
	for line := range strings.Lines(out) {
		label, rest, ok := strings.Cut(line, ":")
		if f := strings.Fields(rest); ok && len(f) > 0 {
			urls[label] = strings.TrimSuffix(f[0], ",")
		}
	}
	return urls
}

func TestDrainOnShutdown(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "flvedge.yaml")
	os.WriteFile(cfg, []byte("viewers:\n  drain: 2s\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls, done := runCommand(t, ctx, "--config", cfg, "--demo", "--https-listen", "",
		"--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	ready := strings.Replace(urls["Admin"], "/metrics", "/readyz", 1)
	waitStream(t, urls["Demo stream"])
	if status(t, ready) != http.StatusOK {
		t.Fatal("not ready while serving")
	}
	v := watch(t, urls["Demo stream"])
	v.waitTags(t, 10)

	stopped := time.Now()
	cancel() // SIGTERM
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for status(t, ready) != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still ready while draining")
		}
		time.Sleep(20 * time.Millisecond)
	}
	n := v.count()
	v.waitTags(t, n+10) // the connected viewer plays on
	if _, err := http.Get(urls["Demo stream"]); err == nil {
		t.Fatal("a new viewer was taken while draining")
	}

	select {
	case <-v.ended:
	case <-time.After(time.Minute):
		t.Fatal("viewer still connected long after the 2 s drain time")
	}
	if v.err != io.EOF {
		t.Fatalf("the viewer's response ended with %v, want a clean end", v.err)
	}
	if took := time.Since(stopped); took < 1500*time.Millisecond {
		t.Fatalf("viewer ended %v after the shutdown began, before the 2 s drain time", took)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// status is the status of a GET, or 0 when the server does not answer.
func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
