package app

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/config"
)

// TestVODOriginFlags: the flags of the issue, on both commands; an edge
// with VOD origins needs no live origin.
func TestVODOriginFlags(t *testing.T) {
	for _, role := range []Role{Ingest, Edge} {
		var out bytes.Buffer
		err := Run(t.Context(), role, []string{"--check-config", "--vod-origin", "/vod=http://127.0.0.1:1", "--vod-origin", "/vod=http://127.0.0.1:2",
			"--vod-origin", "/films=http://127.0.0.1:3/media", "--vod-cache-dir", t.TempDir(), "--vod-cache-size", "2GiB"}, &out, io.Discard)
		if err != nil || !strings.Contains(out.String(), "config OK") {
			t.Fatalf("%s: %v %s", role, err, out.String())
		}
		o, err := parseFlags(role, []string{"--vod-origin", "/vod=http://a", "--vod-origin", "/vod=http://b", "--vod-cache-size", "20GiB"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := config.Load("")
		if err := o.apply(&cfg); err != nil {
			t.Fatal(err)
		}
		if len(cfg.VOD.Origins) != 1 || len(cfg.VOD.Origins[0].URLs) != 2 || cfg.VOD.Cache.Size != 20<<30 {
			t.Fatalf("%s: %+v", role, cfg.VOD)
		}
	}
	err := Run(t.Context(), Edge, []string{"--check-config", "--vod-origin", "/vod=http://127.0.0.1:1"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cache") {
		t.Fatalf("origins without a cache dir: %v", err)
	}
	err = Run(t.Context(), Edge, []string{"--check-config", "--vod-origin", "/vod=ftp://x", "--vod-cache-dir", t.TempDir()}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("an ftp origin was taken")
	}
}
