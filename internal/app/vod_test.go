package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/internal/testutil"
)

// TestVODRootFlag: --vod-root is on both commands, repeatable, and
// replaces the file's roots.
func TestVODRootFlag(t *testing.T) {
	for _, role := range []Role{Ingest, Edge} {
		o, err := parseFlags(role, []string{"--vod-root", "/vod=/srv/a", "--vod-root", "/old=/srv/b"}, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		cfg, _ := config.Load("")
		cfg.VOD.Roots = []config.VODRoot{{Prefix: "/file", Dir: "/x"}}
		if err := o.apply(&cfg); err != nil {
			t.Fatal(err)
		}
		if len(cfg.VOD.Roots) != 2 || cfg.VOD.Roots[0] != (config.VODRoot{Prefix: "/vod", Dir: "/srv/a"}) || cfg.VOD.Roots[1].Prefix != "/old" {
			t.Fatalf("%s: roots %+v", role, cfg.VOD.Roots)
		}
	}
	o, err := parseFlags(Edge, []string{"--vod-root", "/vod"}, io.Discard)
	if err == nil {
		cfg, _ := config.Load("")
		err = o.apply(&cfg)
	}
	if err == nil || !strings.Contains(err.Error(), "--vod-root") {
		t.Fatalf("a root without a directory: %v", err)
	}
	err = Run(context.Background(), Ingest, []string{"--http-listen", "127.0.0.1:0", "--rtmp-listen", "127.0.0.1:0",
		"--admin-listen", "", "--vod-root", "/vod=" + filepath.Join(t.TempDir(), "none")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "vod") {
		t.Fatalf("a root that does not exist: %v", err)
	}
}

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
