package vod

import (
	"strings"
	"testing"
)

func TestNewRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Extensions: []string{"flv"}}, `vod: extension "flv": must be a dot and a name`},
		{Config{Extensions: []string{".a/b"}}, `extension ".a/b"`},
		{Config{Extensions: []string{}}, "vod: extensions: an empty list serves nothing"},
		{Config{Roots: []Root{{Prefix: "/", Dir: dir}}}, `vod: prefix "/": must be a clean path`},
		{Config{Roots: []Root{{Prefix: "/a/../b", Dir: dir}}}, `prefix "/a/../b"`},
		{Config{Roots: []Root{{Prefix: "/vod"}}}, "vod: root /vod: dir: must name a directory"},
		{Config{Roots: []Root{{Prefix: "/v", Dir: dir}, {Prefix: "/v", Dir: dir}}}, "vod: prefix /v given twice"},
		{Config{Roots: []Root{{Prefix: "/v", Dir: dir + "/none"}}}, "vod: root /v: stat"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
		if err := tc.cfg.Check(); (err == nil) != strings.Contains(tc.want, "stat") {
			t.Errorf("%+v: Check says %v; only New looks at the disk", tc.cfg, err)
		}
	}
}
