package app

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

// TestReloadOnSIGHUP changes an edge's origins in its config file and sends
// SIGHUP: new viewers get the new origin, a connected viewer plays on, and a
// broken file is refused without harm.
func TestReloadOnSIGHUP(t *testing.T) {
	first := startServer(t, Ingest, nil)
	startDemo(t, first)
	second := startServer(t, Ingest, nil)
	pub, err := second.hub.Publish("live", "only-second", func() {})
	if err != nil {
		t.Fatal(err)
	}
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}})
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}})

	path := filepath.Join(t.TempDir(), "edge.yaml")
	write := func(content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const quick = "viewers:\n  drain: 100ms\n"
	write(quick + "upstream:\n  origins: [" + first.baseURL() + "]\n  viewer_wait: 2s\n")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Edge, []string{"--config", path, "--http-listen", "127.0.0.1:0", "--admin-listen", ""}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		<-done
	}()
	var base string
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for base == "" && time.Now().Before(deadline) {
		base = printedURLs(stdout.String())["Play at"]
		time.Sleep(20 * time.Millisecond)
	}
	base = base[:len(base)-len("/live/STREAM.flv")]

	v := watch(t, base+"/live/demo.flv")
	v.waitTags(t, 10)
	if code := status(t, base+"/live/only-second.flv"); code != http.StatusNotFound {
		t.Fatalf("before the reload: %d, want 404", code)
	}

	write(quick + "upstream:\n  origins: [" + second.baseURL() + ", " + first.baseURL() + "]\n  viewer_wait: 2s\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitLog(t, &stderr, "config reloaded")
	resp, err := http.Get(base + "/live/only-second.flv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the reload: %d, want 200 from the new origin", resp.StatusCode)
	}
	n := v.count()
	v.waitTags(t, n+10) // the viewer from before plays on

	write("upstream:\n  origins: [ftp://nowhere]\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitLog(t, &stderr, "reload refused")
	if code := status(t, base+"/live/only-second.flv"); code != http.StatusOK {
		t.Fatalf("after a refused reload: %d, want the running config", code)
	}
}

func waitLog(t *testing.T, log *testutil.SyncBuffer, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for !strings.Contains(log.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", what, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
