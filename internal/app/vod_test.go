package app

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/config"
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
