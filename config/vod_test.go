package config

import (
	"strings"
	"testing"
	"time"
)

func TestVODSettings(t *testing.T) {
	c, err := Load(write(t, "vod:\n  roots:\n    - {prefix: /vod, dir: /srv/videos}\n    - {prefix: /archive/old, dir: /mnt/old, follow_symlinks: true}\n  extensions: [.flv, .mp4]\n"))
	if err != nil {
		t.Fatal(err)
	}
	vc := c.VOD.Config()
	if len(vc.Roots) != 2 || vc.Roots[1].Prefix != "/archive/old" || !vc.Roots[1].FollowSymlinks || vc.IndexCacheBytes != 64<<20 || len(vc.Extensions) != 2 {
		t.Fatalf("got %+v", vc)
	}
	for _, tc := range []struct{ file, want string }{
		{"vod:\n  roots: [{prefix: vod, dir: /x}]\n", "vod.roots[0]"},
		{"vod:\n  roots: [{prefix: /, dir: /x}]\n", "vod.roots[0]"},
		{"vod:\n  roots: [{prefix: /a/../b, dir: /x}]\n", "vod.roots[0]"},
		{"vod:\n  roots: [{prefix: /vod/, dir: /x}]\n", "vod.roots[0]"},
		{"vod:\n  roots: [{prefix: /vod}]\n", "vod.roots[0]: root /vod: dir: must name a directory"},
		{"vod:\n  roots: [{prefix: /v, dir: /x}, {prefix: /v, dir: /y}]\n", "given twice"},
		{"vod:\n  extensions: [flv]\n", "vod.extensions"},
		{"vod:\n  extensions: []\n", "vod.extensions"},
		{"vod:\n  index_cache: 1KiB\n", "vod.index_cache"},
		{"vod:\n  rootz: []\n", "line 2: field rootz not found"},
	} {
		_, err := Load(write(t, tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.file, err, tc.want)
		}
	}
	if r, err := ParseVODRoot("/vod=/srv/a=b"); err != nil || r.Prefix != "/vod" || r.Dir != "/srv/a=b" {
		t.Fatalf("ParseVODRoot: %+v %v", r, err)
	}
	for _, bad := range []string{"/vod", "/vod=", ""} {
		if _, err := ParseVODRoot(bad); err == nil {
			t.Errorf("ParseVODRoot(%q) accepted", bad)
		}
	}
}

func TestVODOriginSettings(t *testing.T) {
	c, err := Load(write(t, "vod:\n  origins:\n    - prefix: /vod\n      urls: [http://a:8080, http://b:8080/media]\n      headers: {Authorization: Bearer x}\n  cache:\n    dir: /var/cache/flvedge\n    size: 20GiB\n    slice: 2MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.VOD.CacheConfig()
	if len(cc.Origins) != 1 || len(cc.Origins[0].URLs) != 2 || cc.Origins[0].Header.Get("Authorization") != "Bearer x" ||
		cc.MaxBytes != 20<<30 || cc.SliceSize != 2<<20 || cc.Dir != "/var/cache/flvedge" || cc.StaleIfError != 24*time.Hour {
		t.Fatalf("got %+v", cc)
	}
	for _, tc := range []struct{ file, want string }{
		{"vod:\n  origins: [{prefix: /vod, urls: [http://a]}]\n", "vod.cache.dir: cache dir: must be set"},
		{"vod:\n  origins: [{prefix: vod, urls: [http://a]}]\n  cache: {dir: /c}\n", "vod.origins[0]"},
		{"vod:\n  origins: [{prefix: /vod, urls: [ftp://a]}]\n  cache: {dir: /c}\n", "ftp://a"},
		{"vod:\n  origins: [{prefix: /vod, urls: []}]\n  cache: {dir: /c}\n", "no origin URL"},
		{"vod:\n  origins: [{prefix: /vod, urls: [http://a], headers: {Range: x}}]\n  cache: {dir: /c}\n", "Range"},
		{"vod:\n  roots: [{prefix: /vod, dir: /x}]\n  origins: [{prefix: /vod, urls: [http://a]}]\n  cache: {dir: /c}\n", "also a root"},
		{"vod:\n  origins: [{prefix: /vod, urls: [http://a]}]\n  cache: {dir: /c, size: 1MiB}\n", "cache size"},
		{"vod:\n  origins: [{prefix: /vod, urls: [http://a]}]\n  cache: {dir: /c, slice: 1KiB}\n", "slice size"},
		{"vod:\n  cache: {response_timeout: 0s}\n", "vod.cache"},
		{"vod:\n  cache: {size: lots}\n", "line 2"},
	} {
		_, err := Load(write(t, tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.file, err, tc.want)
		}
	}
}
