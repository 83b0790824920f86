package app

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
)

// TestFlagsOverrideEveryReload puts each flag over a config file at start
// and over a changed file as a reload does: the flag's value wins both times
// and nothing of what it replaced comes back or is mixed in. Every flag that
// sets a key has a case here; a new flag fails the test until it has one.
func TestFlagsOverrideEveryReload(t *testing.T) {
	dirs := [3]string{t.TempDir(), t.TempDir(), t.TempDir()}
	cases := map[string]struct {
		args  []string  // the flag, maybe repeated
		files [2]string // the file at start and after the reload, each setting the key otherwise
		get   func(config.Config) any
		want  any
	}{
		"http-listen": {[]string{"--http-listen", "127.0.0.1:1"},
			[2]string{`http_listen: ":2"`, `http_listen: ":3"`},
			func(c config.Config) any { return c.HTTPListen }, "127.0.0.1:1"},
		"rtmp-listen": {[]string{"--rtmp-listen", "127.0.0.1:1"},
			[2]string{`rtmp_listen: ":2"`, `rtmp_listen: ":3"`},
			func(c config.Config) any { return c.RTMPListen }, "127.0.0.1:1"},
		"https-listen": {[]string{"--https-listen", "127.0.0.1:1"},
			[2]string{`https_listen: ":2"`, `https_listen: ":3"`},
			func(c config.Config) any { return c.HTTPSListen }, "127.0.0.1:1"},
		"tls-cert": {[]string{"--tls-cert", "/flag/cert.pem"},
			[2]string{"tls: {cert: /a/cert.pem, key: /a/key.pem}", "tls: {cert: /b/cert.pem, key: /b/key.pem}"},
			func(c config.Config) any { return c.TLS.Cert }, "/flag/cert.pem"},
		"tls-key": {[]string{"--tls-key", "/flag/key.pem"},
			[2]string{"tls: {cert: /a/cert.pem, key: /a/key.pem}", "tls: {cert: /b/cert.pem, key: /b/key.pem}"},
			func(c config.Config) any { return c.TLS.Key }, "/flag/key.pem"},
		"admin-listen": {[]string{"--admin-listen", "127.0.0.1:1"},
			[2]string{`admin: {listen: "127.0.0.1:2"}`, `admin: {listen: "127.0.0.1:3"}`},
			func(c config.Config) any { return c.Admin.Listen }, "127.0.0.1:1"},
		"window-duration": {[]string{"--window-duration", "7s"},
			[2]string{"window: {duration: 8s}", "window: {duration: 9s}"},
			func(c config.Config) any { return c.Window.Duration }, 7 * time.Second},
		"window-bytes": {[]string{"--window-bytes", "3MiB"},
			[2]string{"window: {bytes: 4MiB}", "window: {bytes: 5MiB}"},
			func(c config.Config) any { return c.Window.Bytes }, config.ByteSize(3 << 20)},
		"grace": {[]string{"--grace", "7s"},
			[2]string{"publish: {grace: 8s}", "publish: {grace: 9s}"},
			func(c config.Config) any { return c.Publish.Grace }, 7 * time.Second},
		"log-level": {[]string{"--log-level", "debug"},
			[2]string{"log_level: warn", "log_level: error"},
			func(c config.Config) any { return c.LogLevel }, "debug"},
		"origin": {[]string{"--origin", "http://flag1", "--origin", "http://flag2"},
			[2]string{"upstream: {origins: [http://old1, http://old2]}", "upstream: {origins: [http://new1]}"},
			func(c config.Config) any { return c.Upstream.Origins }, []string{"http://flag1", "http://flag2"}},
		"secure-token-secret": {[]string{"--secure-token-secret", "NEW", "--secure-token-secret", "NEW2"},
			[2]string{"access: {secure_token_secrets: [OLD]}", "access: {secure_token_secrets: [OLD2, OLD3]}"},
			func(c config.Config) any { return c.Access.SecureTokenSecrets }, []string{"NEW", "NEW2"}},
		"vod-root": {[]string{"--vod-root", "/v=" + dirs[0], "--vod-root", "/w=" + dirs[1]},
			[2]string{"vod: {roots: [{prefix: /old, dir: " + dirs[2] + "}]}", "vod: {roots: [{prefix: /v, dir: " + dirs[2] + "}]}"},
			func(c config.Config) any { return c.VOD.Roots },
			[]config.VODRoot{{Prefix: "/v", Dir: dirs[0]}, {Prefix: "/w", Dir: dirs[1]}}},
		"vod-origin": {[]string{"--vod-origin", "/v=http://flag1", "--vod-origin", "/v=http://flag2"},
			[2]string{"vod: {origins: [{prefix: /old, urls: [http://old]}], cache: {dir: /c}}", "vod: {origins: [{prefix: /v, urls: [http://new]}], cache: {dir: /c}}"},
			func(c config.Config) any { return c.VOD.Origins },
			[]config.VODOrigin{{Prefix: "/v", URLs: []string{"http://flag1", "http://flag2"}}}},
		"vod-cache-dir": {[]string{"--vod-cache-dir", "/flag"},
			[2]string{"vod: {cache: {dir: /a}}", "vod: {cache: {dir: /b}}"},
			func(c config.Config) any { return c.VOD.Cache.Dir }, "/flag"},
		"vod-cache-size": {[]string{"--vod-cache-size", "3GiB"},
			[2]string{"vod: {cache: {size: 1GiB}}", "vod: {cache: {size: 2GiB}}"},
			func(c config.Config) any { return c.VOD.Cache.Size }, config.ByteSize(3 << 30)},
	}
	notKeys := map[string]bool{"config": true, "check-config": true, "print-default-config": true, "demo": true}
	path := filepath.Join(t.TempDir(), "flvedge.yaml")
	for _, role := range []Role{Ingest, Edge} {
		flagSet(role, &options{}, io.Discard).VisitAll(func(f *flag.Flag) {
			if _, ok := cases[f.Name]; !ok && !notKeys[f.Name] {
				t.Errorf("%s: --%s has no case in this test", role, f.Name)
			}
		})
		for name, c := range cases {
			if flagSet(role, &options{}, io.Discard).Lookup(name) == nil {
				continue
			}
			t.Run(string(role)+"/"+name, func(t *testing.T) {
				o, err := parseFlags(role, c.args, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				for i, file := range c.files {
					if err := os.WriteFile(path, []byte(file+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
					cfg, err := config.Load(path)
					if err != nil {
						t.Fatal(err)
					}
					if reflect.DeepEqual(c.get(cfg), c.want) {
						t.Fatalf("file %d already says %v: the case tests nothing", i, c.want)
					}
					if err := o.apply(&cfg); err != nil {
						t.Fatal(err)
					}
					if got := c.get(cfg); !reflect.DeepEqual(got, c.want) {
						t.Fatalf("load %d (%s): %v, want the flag's %v", i, map[int]string{0: "start", 1: "reload"}[i], got, c.want)
					}
				}
			})
		}
	}
}

// TestFlagsNameTheirKeys: every flag given at once checks (so each names a
// key of the config), and a bad value a flag gives is reported with the
// flag, the key and the reason of the package it is for.
func TestFlagsNameTheirKeys(t *testing.T) {
	dir := t.TempDir()
	common := []string{"--http-listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0", "--tls-cert", "/c.pem", "--tls-key", "/k.pem",
		"--admin-listen", "", "--window-duration", "7s", "--window-bytes", "3MiB", "--grace", "7s", "--secure-token-secret", "s",
		"--vod-root", "/v=" + dir, "--vod-origin", "/w=http://127.0.0.1:1", "--vod-cache-dir", dir, "--vod-cache-size", "3GiB", "--log-level", "debug"}
	for role, args := range map[Role][]string{
		Ingest: append([]string{"--rtmp-listen", "127.0.0.1:0"}, common...),
		Edge:   append([]string{"--origin", "http://127.0.0.1:1"}, common...),
	} {
		var out bytes.Buffer
		given := map[string]bool{}
		for _, a := range args {
			given[strings.TrimPrefix(a, "--")] = true
		}
		flagSet(role, &options{}, io.Discard).VisitAll(func(f *flag.Flag) {
			if !given[f.Name] && f.Name != "config" && f.Name != "check-config" && f.Name != "print-default-config" && f.Name != "demo" {
				t.Errorf("%s: --%s is not given here", role, f.Name)
			}
		})
		if err := Run(t.Context(), role, append(args, "--check-config"), &out, io.Discard); err != nil || !strings.Contains(out.String(), "config OK") {
			t.Fatalf("%s: %v %s", role, err, out.String())
		}
	}
	err := Run(t.Context(), Edge, []string{"--check-config", "--vod-origin", "/vod=http://127.0.0.1:1", "--vod-cache-dir", dir, "--vod-cache-size", "1MiB"}, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "--vod-cache-size: vod.cache.size: cache size 1048576: must be at least four slices") {
		t.Fatalf("a bad --vod-cache-size: %v", err)
	}
	err = Run(t.Context(), Edge, []string{"--check-config", "--origin", "ftp://o"}, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), `--origin: upstream.origins[0]: "ftp://o" is not an http:// or https:// URL`) {
		t.Fatalf("a bad --origin: %v", err)
	}
}

// apply puts the flags over c, as config.Load does over the file.
func (o options) apply(c *config.Config) error {
	for _, edit := range o.edits {
		if err := edit.Apply(c); err != nil {
			return err
		}
	}
	return nil
}
