// Package browsertest lets Go tests play pages in a real browser: headless
// Chromium (Debian's package) driven by playwright-core through
// browsertest/play.mjs, with mpegts.js served from browsertest/node_modules.
// Both npm packages are pinned in browsertest/package-lock.json, and
// scripts/test.sh installs Chromium and runs npm ci when they are missing.
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
	"testing"
	"time"
)

// Chromium is where Debian's chromium package puts the browser.
const Chromium = "/usr/bin/chromium"

// Dir returns the browsertest folder of the repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "browsertest")
}

// Require fails the test unless Chromium, node and the npm packages are
// installed.
func Require(t testing.TB) {
	t.Helper()
	const hint = "; run scripts/test.sh, which installs it"
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("Chromium is needed by this browser test and is not at %s (apt-get install chromium)%s", Chromium, hint)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is needed by this browser test and was not found (apt-get install nodejs)%s", hint)
	}
	for _, pkg := range []string{"playwright-core", "mpegts.js"} {
		if _, err := os.Stat(filepath.Join(Dir(), "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s is not installed in %s (cd browsertest && npm ci)%s", pkg, Dir(), hint)
		}
	}
}

// Assets serves the player libraries a test page loads: /mpegts.js.
func Assets() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mpegts.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(Dir(), "node_modules", "mpegts.js", "dist", "mpegts.js"))
	})
	return mux
}

// Run opens pageURL in headless Chromium and returns what the page
// reported in window.testResult. A page that reports nothing within
// timeout, or a browser that fails, fails the test with the page's console
// output.
func Run(t testing.TB, pageURL string, timeout time.Duration) json.RawMessage {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(Dir(), "play.mjs"), pageURL, strconv.FormatInt(timeout.Milliseconds(), 10))
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
