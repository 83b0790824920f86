package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/relay"
)

// TestReloadOnSIGHUP changes an edge's origins in its config file and sends
// SIGHUP: new viewers get the new origin, a connected viewer plays on, and a
// broken file is refused without harm.
func TestReloadOnSIGHUP(t *testing.T) {
	first := startServer(t, Ingest, nil)
	startDemo(t, first)
	second := startServer(t, Ingest, nil)
	publishStill(t, second, "only-second")

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

// publishStill publishes live/name on s: a sequence header and one
// keyframe, enough for a viewer to be answered.
func publishStill(t *testing.T, s *testServer, name string) *relay.Publisher {
	t.Helper()
	pub, err := s.hub.Publish("live", name, func() {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}})
	pub.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}})
	return pub
}

// startWithFlags starts a server from a config file and command-line flags
// as Run does. The reload it returns rewrites the file and reloads as
// SIGHUP does, and fails the test if the reload is refused.
func startWithFlags(t *testing.T, role Role, file string, args ...string) (*testServer, func(file string)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flvedge.yaml")
	write := func(file string) {
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(file)
	o, err := parseFlags(role, append([]string{"--config", path}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, role, func(c *config.Config) {
		loaded, err := config.Load(path)
		if err == nil {
			err = o.apply(&loaded)
		}
		if err != nil {
			t.Fatal(err)
		}
		loaded.RTMPListen, loaded.HTTPListen, loaded.Admin.Listen = c.RTMPListen, c.HTTPListen, c.Admin.Listen
		*c = loaded
	})
	reload := func(file string) {
		t.Helper()
		write(file)
		before := strings.Count(s.log.String(), "config reloaded")
		s.reload(o, s.logger)
		if strings.Count(s.log.String(), "config reloaded") == before {
			t.Fatalf("reload refused:\n%s", s.log.String())
		}
	}
	return s, reload
}

// TestReloadKeepsFlagSecrets: --secure-token-secret replaces the file's
// secrets at start and after every reload; a token signed with a secret of
// the file is refused all along.
func TestReloadKeepsFlagSecrets(t *testing.T) {
	s, reload := startWithFlags(t, Ingest, "access: {secure_token_secrets: [OLD]}\n",
		"--secure-token-secret", "NEW", "--secure-token-secret", "NEW2")
	signed := func(secret string) string {
		rule := auth.TokenRule{Secrets: []string{secret}}
		st, err := rule.Sign("/live/demo.flv", time.Now().Add(time.Hour), netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		return s.baseURL() + st.URL()
	}
	publishStill(t, s, "demo")
	check := func(when string) {
		t.Helper()
		for _, secret := range []string{"NEW", "NEW2"} {
			if code := status(t, signed(secret)); code != http.StatusOK {
				t.Fatalf("%s: signed with the flag's %s: %d, want 200", when, secret, code)
			}
		}
		for _, secret := range []string{"OLD", "OLD2"} {
			if code := status(t, signed(secret)); code != http.StatusForbidden {
				t.Fatalf("%s: signed with the file's %s: %d, want 403", when, secret, code)
			}
		}
	}
	check("at start")
	reload("access: {secure_token_secrets: [OLD2, OLD]}\n")
	check("after a reload")
	reload("access: {secure_token_secrets: [OLD2]}\n")
	check("after a second reload")
}

// TestReloadKeepsFlagOrigins: an edge pulls from the --origin list only,
// before and after reloads that change the file's origins.
func TestReloadKeepsFlagOrigins(t *testing.T) {
	ingests := map[string]*testServer{}
	for _, name := range []string{"flag", "file", "reloaded"} {
		ingests[name] = startServer(t, Ingest, nil)
		publishStill(t, ingests[name], "only-"+name)
	}
	file := func(origin string) string {
		return "upstream:\n  origins: [" + ingests[origin].baseURL() + "]\n  viewer_wait: 2s\n"
	}
	edge, reload := startWithFlags(t, Edge, file("file"), "--origin", ingests["flag"].baseURL())
	check := func(when string, notThere ...string) {
		t.Helper()
		if code := status(t, edge.playURL("only-flag")); code != http.StatusOK {
			t.Fatalf("%s: the stream of the --origin: %d, want 200", when, code)
		}
		for _, name := range notThere {
			if code := status(t, edge.playURL("only-"+name)); code != http.StatusNotFound {
				t.Fatalf("%s: the stream of the file's origin %q: %d, want 404", when, name, code)
			}
		}
	}
	check("at start", "file")
	reload(file("reloaded"))
	check("after a reload", "file", "reloaded")
}

// TestReloadKeepsFlagVODRoots: --vod-root replaces the file's roots at
// start and after a reload; the file's roots serve nothing.
func TestReloadKeepsFlagVODRoots(t *testing.T) {
	demo, err := os.ReadFile("demo.flv")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	for _, name := range []string{"flag", "file", "reloaded"} {
		dirs[name] = t.TempDir()
		if err := os.WriteFile(filepath.Join(dirs[name], name+".flv"), demo, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, reload := startWithFlags(t, Ingest, "vod: {roots: [{prefix: /file, dir: "+dirs["file"]+"}]}\n",
		"--vod-root", "/flag="+dirs["flag"])
	check := func(when string, notServed ...string) {
		t.Helper()
		if code := status(t, s.baseURL()+"/flag/flag.flv"); code != http.StatusOK {
			t.Fatalf("%s: a file of the --vod-root: %d, want 200", when, code)
		}
		for _, name := range notServed {
			if code := status(t, s.baseURL()+"/"+name+"/"+name+".flv"); code != http.StatusNotFound {
				t.Fatalf("%s: a file of the file's root %q: %d, want 404", when, name, code)
			}
		}
	}
	check("at start", "file")
	reload("vod: {roots: [{prefix: /reloaded, dir: " + dirs["reloaded"] + "}]}\n")
	check("after a reload", "file", "reloaded")
}

// TestReloadKeepsLimits: a reload changes what the limits say, never what
// they count. The viewers connected before it count against the limits
// after it, the rate buckets are not refilled, and a changed limit applies
// to the next request. Clients are told apart by X-Forwarded-For from the
// trusted test client; its own requests (waiting for the stream) are exempt.
func TestReloadKeepsLimits(t *testing.T) {
	limits := func(connections, viewers int, rate float64) string {
		return fmt.Sprintf("access:\n  trusted_proxies: [127.0.0.1]\n  exempt: [127.0.0.1]\n"+
			"  limits: {max_connections: %d, rate: %g, burst: 5}\n  play: [{path: /live/, max_viewers: %d}]\n", connections, rate, viewers)
	}
	s, reload := startWithFlags(t, Ingest, limits(2, 3, 0.001))
	url := s.playURL("demo")
	startDemoAt(t, s, url)
	viewers := []*viewer{watchAs(t, url, "192.0.2.1"), watchAs(t, url, "192.0.2.1"), watchAs(t, url, "192.0.2.2")}
	get := func(path, client string) int { return statusAs(t, s.baseURL()+path, client) }
	// 192.0.2.9 spends its burst of 5 on a stream that does not exist.
	for range 5 {
		if code := get("/live/none.flv", "192.0.2.9"); code != http.StatusNotFound {
			t.Fatalf("within the burst: %d, want 404 from the handler", code)
		}
	}

	reload(limits(2, 3, 0.001) + "# touched\n")
	if code := get("/live/demo.flv", "192.0.2.1"); code != http.StatusTooManyRequests {
		t.Fatalf("after a reload, a client's third connection: %d, want 429 (max_connections 2)", code)
	}
	if code := get("/live/demo.flv", "192.0.2.3"); code != http.StatusServiceUnavailable {
		t.Fatalf("after a reload, the stream's fourth viewer: %d, want 503 (max_viewers 3)", code)
	}
	if code := get("/live/none.flv", "192.0.2.9"); code != http.StatusTooManyRequests {
		t.Fatalf("after a reload, a client past its burst: %d, want 429 (bucket refilled)", code)
	}
	for _, v := range viewers {
		v.waitTags(t, v.count()+10) // nobody was cut off
	}

	// Higher limits let the next requests in, and the new rate refills
	// the bucket from the reload on.
	reload(limits(3, 4, 1e6))
	// A client's third connection with max_connections 3 plays, and stays:
	// a viewer that left at once would free its place before the next
	// request on a server that writes without waiting.
	watchAs(t, url, "192.0.2.1").waitTags(t, 1)
	if code := get("/live/demo.flv", "192.0.2.4"); code != http.StatusServiceUnavailable {
		t.Fatalf("the stream's fifth viewer with max_viewers 4: %d, want 503", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for get("/live/none.flv", "192.0.2.9") != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatal("the bucket does not refill at the new rate")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A lower limit refuses newcomers and leaves the viewers be.
	reload(limits(1, 1, 1e6))
	if code := get("/live/demo.flv", "192.0.2.5"); code != http.StatusServiceUnavailable {
		t.Fatalf("a new viewer with max_viewers lowered to 1: %d, want 503", code)
	}
	for _, v := range viewers {
		v.waitTags(t, v.count()+10)
	}
	play, _ := s.guard.Refusals()
	if play[auth.ClientBusy] != 1 || play[auth.StreamFull] != 3 || play[auth.RateLimited] < 1 {
		t.Fatalf("refusals over the reloads %v, want 1 client_connections, 3 viewers and some rate", play)
	}
}

// TestReloadKeepsTheViewerCap: viewers.max, the cap over all streams, still
// counts the viewers connected before a reload.
func TestReloadKeepsTheViewerCap(t *testing.T) {
	s, reload := startWithFlags(t, Ingest, "viewers: {max: 2}\n")
	publishStill(t, s, "a")
	publishStill(t, s, "b")
	watch(t, s.playURL("a"))
	watch(t, s.playURL("b"))
	reload("viewers: {max: 2, write_timeout: 20s}\n")
	if code := status(t, s.playURL("a")); code != http.StatusServiceUnavailable {
		t.Fatalf("a third viewer after a reload: %d, want 503 (viewers.max 2)", code)
	}
	reload("viewers: {max: 3}\n")
	if code := status(t, s.playURL("a")); code != http.StatusOK {
		t.Fatalf("a third viewer with viewers.max raised to 3: %d, want 200", code)
	}
}

// TestReloadKeepsTheVODHandler: a reload that leaves the VOD settings alone
// keeps the handler, and with it the cached indexes; one that changes them
// builds a new one.
func TestReloadKeepsTheVODHandler(t *testing.T) {
	dir := t.TempDir()
	roots := "vod: {roots: [{prefix: /vod, dir: " + dir + "}]}\n"
	s, reload := startWithFlags(t, Ingest, roots)
	handler := func() http.Handler { return s.vod.mounts[0].Handler }
	before := handler()
	reload(roots + "viewers: {max: 5}\n")
	if handler() != before {
		t.Fatal("a reload that changes no VOD setting replaced the VOD handler")
	}
	reload("vod: {roots: [{prefix: /vod, dir: " + dir + "}], index_cache: 1MiB}\n")
	if handler() == before {
		t.Fatal("a reload that changes the VOD settings kept the old handler")
	}
}
