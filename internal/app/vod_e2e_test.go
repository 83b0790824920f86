//go:build e2e

package app

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/internal/testutil"
)

// TestVODOnTheEdge serves a stored file beside the live routes of an edge:
// the whole file, a byte seek that ffmpeg decodes, and live 404s as before.
func TestVODOnTheEdge(t *testing.T) {
	dir := t.TempDir()
	demo, err := os.ReadFile("demo.flv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "demo.flv"), demo, 0o644); err != nil {
		t.Fatal(err)
	}
	origin := startServer(t, Ingest, nil)
	s := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, origin.baseURL())
		c.VOD.Roots = []config.VODRoot{{Prefix: "/vod", Dir: dir}}
	})
	base := s.baseURL()
	resp, err := http.Get(base + "/vod/demo.flv")
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" || resp.Header.Get("Accept-Ranges") != "bytes" || len(whole) < len(demo) {
		t.Fatalf("GET: %d, %d bytes, %v", resp.StatusCode, len(whole), resp.Header)
	}
	url := fmt.Sprintf("%s/vod/demo.flv?start=%d", base, len(whole)/2)
	out, err := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-hide_banner", "-nostdin", "-v", "error",
		"-i", url, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decoding %s: %v\n%s", url, err, out)
	}
	resp, err = http.Get(base + "/live/none.flv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown live stream: %d", resp.StatusCode)
	}
}
