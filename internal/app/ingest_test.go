package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

// These tests run the ingest as a user does, with real peers: ffmpeg and
// GStreamer publish over RTMP, ffmpeg and ffprobe play over HTTP.

type testServer struct {
	*server
	log    *testutil.SyncBuffer
	logger *slog.Logger
}

func startServer(t *testing.T, role Role, edit func(*config.Config)) *testServer {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RTMPListen, cfg.HTTPListen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := start(role, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	return &testServer{server: srv, log: logs, logger: logger}
}

func (s *testServer) rtmpURL(stream string) string {
	return "rtmp://" + s.rtmpLn.Addr().String() + "/live/" + stream
}

func (s *testServer) playURL(stream string) string {
	return "http://" + s.web.HTTPAddr().String() + "/live/" + stream + ".flv"
}

// waitStream waits until a stream can be played.
func waitStream(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for time.Now().Before(deadline) {
		resp, err := http.Head(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}

// viewer reads tags from a live URL in the background.
type viewer struct {
	mu    sync.Mutex
	tags  []flv.Tag
	at    []time.Time // when each tag was received
	err   error
	ended chan struct{}
}

func watch(t *testing.T, url string, header ...string) *viewer {
	t.Helper()
	return watchWith(t, http.DefaultClient, url, header...)
}

// watchWith is watch over client's protocol.
func watchWith(t *testing.T, client *http.Client, url string, header ...string) *viewer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return follow(t, resp)
}

// watchIfAdmitted is watch for a request that may be refused with 410 (an
// expired token): then it returns nil.
func watchIfAdmitted(t *testing.T, url string) *viewer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return follow(t, resp)
	case http.StatusGone:
		resp.Body.Close()
		return nil
	}
	resp.Body.Close()
	t.Fatalf("GET %s: %s", url, resp.Status)
	return nil
}

// follow reads the tags of an admitted viewer's response until it ends.
func follow(t *testing.T, resp *http.Response) *viewer {
	v := &viewer{ended: make(chan struct{})}
	t.Cleanup(func() {
		resp.Body.Close()
		<-v.ended
	})
	go func() {
		defer close(v.ended)
		r := flv.NewReader(resp.Body)
		_, err := r.ReadHeader()
		for err == nil {
			var tag flv.Tag
			if tag, err = r.ReadTag(); err == nil {
				v.mu.Lock()
				v.tags = append(v.tags, tag)
				v.at = append(v.at, time.Now())
				v.mu.Unlock()
			}
		}
		v.mu.Lock()
		v.err = err
		v.mu.Unlock()
	}()
	return v
}

func (v *viewer) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.tags)
}

func (v *viewer) waitTags(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for v.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("viewer has %d tags, waited for %d", v.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quickDrain is a config file that ends viewers soon after a shutdown.
func quickDrain(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "flvedge.yaml")
	if err := os.WriteFile(path, []byte("viewers:\n  drain: 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDemoCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Ingest, []string{"--config", quickDrain(t), "--demo", "--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var url string
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for url == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no demo URL printed; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		for line := range strings.Lines(stdout.String()) {
			if u, ok := strings.CutPrefix(line, "Demo stream: "); ok {
				url = strings.TrimSpace(u)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasSuffix(url, "/live/demo.flv") {
		t.Fatalf("demo URL %q", url)
	}
	// The demo serves HTTPS too, on a self-signed certificate.
	if secure := printedURLs(stdout.String())["Play securely"]; !strings.HasPrefix(secure, "https://") {
		t.Fatalf("no HTTPS URL printed:\n%s", stdout.String())
	}
	waitStream(t, url)
	v := watch(t, url)
	// The clip is 4 s long: play past 5 s crosses a loop. Waited for by
	// the timestamps received, not by a sleep a loaded machine outlasts.
	deadline = time.Now().Add(time.Minute)
	for {
		v.mu.Lock()
		var lastVideo uint32
		for _, tag := range v.tags {
			if tag.Type == flv.TagVideo {
				if tag.Timestamp < lastVideo {
					v.mu.Unlock()
					t.Fatalf("demo timestamps went back from %d to %d", lastVideo, tag.Timestamp)
				}
				lastVideo = tag.Timestamp
			}
		}
		v.mu.Unlock()
		if lastVideo >= 5000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute the demo is at %d ms", lastVideo)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCheckAndPrintConfig(t *testing.T) {
	var out testutil.SyncBuffer
	if err := Run(context.Background(), Edge, []string{"--print-default-config"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "default.yaml")
	os.WriteFile(path, []byte(out.String()), 0o600)
	out = testutil.SyncBuffer{}
	if err := Run(context.Background(), Ingest, []string{"--check-config", "--config", path}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "config OK") {
		t.Fatalf("the printed default does not check: %v %s", err, out.String())
	}
	os.WriteFile(path, []byte("window:\n  bytes: 1MiB\n  sizes: 3\n"), 0o600)
	err := Run(context.Background(), Ingest, []string{"--check-config", "--config", path}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("a bad key: %v, want its line", err)
	}
}

func TestBadFlagsAndConfig(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--window-bytes", "lots"},
		{"--config", "/nonexistent.yaml"},
		{"extra"},
	} {
		err := Run(context.Background(), Ingest, args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
