// Package browsertest lets Go tests play pages in a real browser: headless
// Chromium (Debian's package) driven by playwright-core through
// browsertest/play.mjs (pinned in browsertest/package-lock.json), with the
// mpegts.js that the player page embeds (pinned in
// web/player/package-lock.json, copied into web/player/mpegts by npm ci):
// the tests play with the copy that users get. scripts/test.sh installs
// Chromium and runs both npm ci when they are missing.
//
// A test serves its page and the media on a loopback httptest server,
// mounts Assets for the player library, and calls Run with the page's URL.
// The page reports by setting window.testResult. Anything missing fails the
// test: a browser test that skipped would pass without testing anything.
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
)

// Dir returns the browsertest folder of the repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "browsertest")
}

// mpegtsFile is where npm ci in web/player puts mpegts.js.
func mpegtsFile() string { return filepath.Join(Dir(), "..", "web", "player", "mpegts", "mpegts.js") }

// Require fails the test unless Chromium, node and the npm packages are
// installed, and returns the paths of node and Chromium.
func Require(t testing.TB) (node, chromium string) {
	t.Helper()
	chromium = testutil.RequireTool(t, "chromium", "chromium")
	node = testutil.RequireTool(t, "node", "nodejs")
	const hint = "; run scripts/test.sh, which installs it"
	if _, err := os.Stat(filepath.Join(Dir(), "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("npm package playwright-core is not installed in %s (cd browsertest && npm ci)%s", Dir(), hint)
	}
	if _, err := os.Stat(mpegtsFile()); err != nil {
		t.Fatalf("mpegts.js is not installed in web/player/mpegts (cd web/player && npm ci)%s", hint)
	}
	return node, chromium
}

// dashFile returns where npm ci in browsertest puts a file of dash.js's
// browser build (pinned in browsertest/package-lock.json).
func dashFile(name string) string {
	return filepath.Join(Dir(), "node_modules", "dashjs", "dist", "modern", "umd", name)
}

// RequireDash fails the test unless dash.js is installed, besides what
// Require checks.
func RequireDash(t testing.TB) {
	t.Helper()
	Require(t)
	if _, err := os.Stat(dashFile("dash.mss.min.js")); err != nil {
		t.Fatalf("npm package dashjs is not installed in %s (cd browsertest && npm ci); run scripts/test.sh, which installs it", Dir())
	}
}

// Assets serves the player libraries a test page loads: /mpegts.js, and
// dash.js with its Smooth Streaming plugin, /dash.all.min.js and
// /dash.mss.min.js.
func Assets() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mpegts.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, mpegtsFile())
	})
	for _, name := range []string{"dash.all.min.js", "dash.mss.min.js"} {
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, dashFile(name))
		})
	}
	return mux
}

// Run opens pageURL in headless Chromium and returns what the page
// reported in window.testResult. A page that reports nothing within
// timeout, or a browser that fails, fails the test with the page's console
// output.
func Run(t testing.TB, pageURL string, timeout time.Duration) json.RawMessage {
	t.Helper()
	return RunWith(t, pageURL, timeout, Options{})
}

// Options change how RunWith opens a page.
type Options struct {
	// ChromiumArgs are added to Chromium's command line, for example to
	// force QUIC towards a test origin.
	ChromiumArgs []string
	// Result, if set, is a JavaScript expression polled in the page until
	// it gives a value, which is the result; else the page's
	// window.testResult.
	Result string
}

// RunWith is Run with options.
func RunWith(t testing.TB, pageURL string, timeout time.Duration, o Options) json.RawMessage {
	t.Helper()
	node, chromium := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(Dir(), "play.mjs"), pageURL, strconv.FormatInt(timeout.Milliseconds(), 10))
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "CHROMIUM_ARGS="+strings.Join(o.ChromiumArgs, "\n"), "PLAY_RESULT="+o.Result)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var out struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
		Logs   []string        `json:"logs"`
	}
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &out); jerr != nil {
		t.Fatalf("browser: %v (exit: %v)\nstdout: %s\nstderr: %s", jerr, err, stdout.Bytes(), stderr.Bytes())
	}
	for _, l := range out.Logs {
		t.Logf("page: %s", l)
	}
	if !out.OK || err != nil {
		t.Fatalf("browser: %s (exit: %v)\nstderr: %s", out.Error, err, stderr.Bytes())
	}
	return out.Result
}
