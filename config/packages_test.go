package config

import (
	"net"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/rtmp"
	"github.com/flvedge/flvedge/vod"
	"github.com/flvedge/flvedge/vodcache"
	"github.com/flvedge/flvedge/web"
)

// TestBadValuesRefusedByTheirPackage: each value below breaks a rule of
// the package it is for. The file is refused at the value's line and key
// with the package's message, and the package, given the same value,
// refuses it with that message: one rule, one place.
func TestBadValuesRefusedByTheirPackage(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want string       // the line and key
		pkg  func() error // the package given the same value
	}{
		{"vod extension", "vod:\n  extensions:\n    - .flv\n    - flv\n", "line 4: vod.extensions[1]: ",
			func() error { _, err := vod.New(vod.Config{Extensions: []string{".flv", "flv"}}); return err }},
		{"vod no extension", "vod:\n  extensions: []\n", "line 2: vod.extensions: ",
			func() error { _, err := vod.New(vod.Config{Extensions: []string{}}); return err }},
		{"vod prefix", "vod:\n  roots:\n    - prefix: vod/\n      dir: /x\n", "line 3: vod.roots[0]: ",
			func() error {
				_, err := vod.New(vod.Config{Roots: []vod.Root{{Prefix: "vod/", Dir: "/x"}}})
				return err
			}},
		{"vod root without dir", "vod:\n  roots:\n    - prefix: /vod\n", "line 3: vod.roots[0]: ",
			func() error { _, err := vod.New(vod.Config{Roots: []vod.Root{{Prefix: "/vod"}}}); return err }},
		{"vod prefix twice", "vod:\n  roots:\n    - {prefix: /v, dir: /x}\n    - {prefix: /v, dir: /y}\n", "line 2: vod.roots: ",
			func() error {
				_, err := vod.New(vod.Config{Roots: []vod.Root{{Prefix: "/v", Dir: "/x"}, {Prefix: "/v", Dir: "/y"}}})
				return err
			}},
		{"cache origin URL", "vod:\n  cache: {dir: /c}\n  origins:\n    - prefix: /vod\n      urls: [ftp://a]\n", "line 4: vod.origins[0]: ",
			func() error { return newCache(t, vodcache.Origin{Prefix: "/vod", URLs: []string{"ftp://a"}}) }},
		{"cache origin header", "vod:\n  cache: {dir: /c}\n  origins:\n    - prefix: /vod\n      urls: [http://a]\n      headers: {Range: x}\n", "line 4: vod.origins[0]: ",
			func() error {
				return newCache(t, vodcache.Origin{Prefix: "/vod", URLs: []string{"http://a"}, Header: map[string][]string{"Range": {"x"}}})
			}},
		{"cache slice", "vod:\n  origins: [{prefix: /vod, urls: [http://a]}]\n  cache:\n    dir: /c\n    slice: 1KiB\n", "line 5: vod.cache.slice: ",
			func() error {
				_, err := vodcache.New(vodcache.Config{Dir: t.TempDir(), MaxBytes: 1 << 30, SliceSize: 1 << 10})
				return err
			}},
		{"cache size", "vod:\n  origins: [{prefix: /vod, urls: [http://a]}]\n  cache:\n    dir: /c\n    size: 1MiB\n", "line 5: vod.cache.size: ",
			func() error { _, err := vodcache.New(vodcache.Config{Dir: t.TempDir(), MaxBytes: 1 << 20}); return err }},
		{"cache dir", "vod:\n  origins: [{prefix: /vod, urls: [http://a]}]\n", "line 1: vod.cache.dir: ",
			func() error { _, err := vodcache.New(vodcache.Config{MaxBytes: 1 << 30}); return err }},
		{"pull name", "pulls:\n  - stream: live/a b\n    url: http://o/x.flv\n", "line 2: pulls[0].stream: ",
			func() error { return keep(t, relay.PullConfig{}, "live", "a b", "http://o/x.flv") }},
		{"pull URL", "pulls:\n  - stream: live/a\n    url: ftp://o/x.flv\n", "line 3: pulls[0].url: ",
			func() error { return keep(t, relay.PullConfig{}, "live", "a", "ftp://o/x.flv") }},
		{"node id", "upstream:\n  node_id: a,b\n", "line 2: upstream.node_id: ",
			func() error { return keep(t, relay.PullConfig{NodeID: "a,b"}, "", "", "") }},
		{"origin URL", "upstream:\n  origins:\n    - http://a\n    - ftp://b\n", "line 4: upstream.origins[1]: ",
			func() error { return relay.CheckOrigin("ftp://b") }}, // Origins is a func: the puller leaves such an origin out
		{"app name", "upstream:\n  app_origins:\n    a.b: [http://o]\n    .b: [http://o]\n", "line 4: upstream.app_origins.\".b\": ",
			func() error { return keep(t, relay.PullConfig{}, ".b", "x", "http://o") }},
		{"play prefix", "access:\n  play:\n    - path: /\n    - path: live/\n", "line 4: access.play[1]: ",
			func() error { _, err := auth.New(auth.Config{Play: []auth.Scope{{Prefix: "live/"}}}); return err }},
		{"play callback", "access:\n  play:\n    - path: /\n      callback: {url: auth.internal}\n", "line 3: access.play[0]: ",
			func() error {
				_, err := auth.New(auth.Config{Play: []auth.Scope{{Prefix: "/", Callback: &auth.Callback{URL: "auth.internal"}}}})
				return err
			}},
		{"publish app", "access:\n  publish:\n    - keys: [k]\n", "line 3: access.publish[0]: ",
			func() error {
				_, err := auth.New(auth.Config{Publish: []auth.PublishRule{{Keys: []string{"k"}}}})
				return err
			}},
		{"publish key", "access:\n  publish:\n    - app: live\n      keys: [\"\"]\n", "line 3: access.publish[0]: ",
			func() error {
				_, err := auth.New(auth.Config{Publish: []auth.PublishRule{{App: "live", Keys: []string{""}}}})
				return err
			}},
		{"token secret", "access:\n  secure_token_secrets: [\"\"]\n", "line 2: access.secure_token_secrets: ",
			func() error {
				var c auth.Config
				c.SetRootToken(auth.TokenRule{Secrets: []string{""}})
				_, err := auth.New(c)
				return err
			}},
		{"access limits", "access:\n  limits:\n    rate: -1\n", "line 2: access.limits: ",
			func() error { _, err := auth.New(auth.Config{Limits: auth.Limits{Rate: -1}}); return err }},
		{"rtmp message size", "publish:\n  max_message_size: 32MiB\n", "line 2: publish.max_message_size: ",
			func() error { return serveRTMP(t, &rtmp.Server{MaxMessageSize: 32 << 20}) }},
		{"rtmp command size", "publish:\n  max_command_size: 1KiB\n", "line 2: publish.max_command_size: ",
			func() error { return serveRTMP(t, &rtmp.Server{MaxCommandSize: 1 << 10}) }},
		{"coalesce mode", "viewers:\n  coalesce_mode: smart\n", "line 2: viewers.coalesce_mode: ",
			func() error { _, err := web.ParseCoalesceMode("smart"); return err }},
		{"credential origin", "cors:\n  credential_origins:\n    - https://a.example/page\n", "line 3: cors.credential_origins[0]: ",
			func() error { return web.CheckCredentialOrigin("https://a.example/page") }},
		{"admin host", "admin:\n  hosts: [\"m.internal:9090\"]\n", "line 2: admin.hosts[0]: ",
			func() error { return web.CheckAdminHost("m.internal:9090") }},
		{"admin token", "admin:\n  token: short\n", "line 2: admin.token: ",
			func() error { return web.CheckAdminToken("short") }},
		{"mpegts URL", "player:\n  mpegts_url: \"javascript:alert(1)\"\n", "line 2: player.mpegts_url: ",
			func() error { return web.CheckMpegtsURL("javascript:alert(1)") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkgErr := tc.pkg()
			if pkgErr == nil {
				t.Fatal("the package takes the value")
			}
			_, err := Load(write(t, tc.file))
			if err == nil {
				t.Fatal("the file was taken")
			}
			// After the line and key, the package's message, as the
			// package gives it after what it adds of its own (its name, the
			// rule's context).
			_, msg, ok := strings.Cut(err.Error(), tc.want)
			if !ok || msg == "" || !strings.HasSuffix(pkgErr.Error(), msg) {
				t.Fatalf("the file: %v\nwant %q, then the end of the package's %q", err, tc.want, pkgErr)
			}
		})
	}
}

func newCache(t *testing.T, o vodcache.Origin) error {
	c, err := vodcache.New(vodcache.Config{Dir: t.TempDir(), MaxBytes: 1 << 30, Origins: []vodcache.Origin{o}})
	if err == nil {
		c.Close()
	}
	return err
}

// keep starts a puller with cfg and, if app is given, a static pull.
func keep(t *testing.T, cfg relay.PullConfig, app, name, url string) error {
	hub := relay.NewHub(relay.Config{})
	defer hub.Close()
	p, err := relay.NewPuller(hub, cfg)
	if err != nil || app == "" {
		return err
	}
	defer p.Close()
	return p.Keep(app, name, url)
}

func serveRTMP(t *testing.T, s *rtmp.Server) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Serve(ln)
}
