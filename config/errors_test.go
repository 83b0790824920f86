package config

import (
	"strings"
	"testing"
)

// TestOverrideErrorsNameTheFlag: a bad value that a flag set is reported
// with the flag, one from the file with its line, whichever comes first in
// the checks; the file is checked with the flags over it, so that a flag
// can complete it.
func TestOverrideErrorsNameTheFlag(t *testing.T) {
	set := func(flag, key string, f func(*Config)) Override {
		return Override{Flag: flag, Key: key, Set: func(c *Config) error { f(c); return nil }}
	}
	size := set("vod-cache-size", "vod.cache.size", func(c *Config) { c.VOD.Cache.Size = 1 << 20 })
	dir := set("vod-cache-dir", "vod.cache.dir", func(c *Config) { c.VOD.Cache.Dir = "/c" })
	origin := set("vod-origin", "vod.origins", func(c *Config) { c.VOD.Origins = []VODOrigin{{Prefix: "/vod", URLs: []string{"ftp://o"}}} })
	window := set("window-bytes", "window.bytes", func(c *Config) { c.Window.Bytes = 1 << 10 })
	parse := Override{Flag: "window-bytes", Key: "window.bytes", Set: func(c *Config) (err error) {
		c.Window.Bytes, err = ParseByteSize("lots")
		return err
	}}
	origins := "vod:\n  origins: [{prefix: /vod, urls: [http://o]}]\n"
	for _, tc := range []struct {
		name      string
		file      string
		overrides []Override
		want      string // "" for none
	}{
		{"flag", origins, []Override{dir, size}, "--vod-cache-size: vod.cache.size: cache size 1048576: must be at least four slices"},
		{"flag within a list", "", []Override{dir, origin}, `--vod-origin: vod.origins[0]: prefix /vod: "ftp://o" is not`},
		{"flag without a file", "", []Override{window}, "--window-bytes: window.bytes: must be at least 1MiB"},
		{"flag that does not parse", "", []Override{parse}, `--window-bytes: "lots" is not a size`},
		{"file beside a flag", "vod:\n  cache:\n    slice: 1KiB\n" + origins[5:], []Override{dir}, "line 3: vod.cache.slice: slice size 1024"},
		{"flag completing the file", origins, []Override{dir}, ""},
		{"file completed by nothing", origins, nil, "line 1: vod.cache.dir: cache dir: must be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = write(t, tc.file)
			}
			_, err := Load(path, tc.overrides...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeyLines(t *testing.T) {
	path := write(t, "# comment\nvod:\n  roots:\n    - prefix: /a\n      dir: /x\n    - {prefix: /b}\n")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "line 6: vod.roots[1]: root /b") {
		t.Fatalf("%v, want line 6", err)
	}
}
