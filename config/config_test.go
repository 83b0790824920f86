package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.RTMPListen != ":1935" || c.HTTPListen != ":8080" || c.Window.Bytes != 64<<20 || c.Publish.Grace != 10*time.Second {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	path := write(t, "window:\n  bytes: 16MiB\npublish:\n  grace: 2s\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Window.Bytes != 16<<20 || c.Publish.Grace != 2*time.Second || c.Window.Duration != 10*time.Second {
		t.Fatalf("got %+v", c)
	}
}

func TestBadFilesNameTheLine(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"publish:\n  grase: 2s\n", "line 2: field grase not found"},
		{"window:\n  bytes: lots\n", "line 2"},
		{"window:\n  duration: soon\n", "line 2"},
		{"window:\n  slow_viewers: wait\n", "window.slow_viewers"},
		{"viewers:\n  coalesce_mode: smart\n", "viewers.coalesce_mode"},
		{"viewers:\n  coalesce_writes: -1\n", "viewers.coalesce_writes"},
		{"viewers:\n  max_per_connection: 0\n", "viewers.max_per_connection"},
		{"log_level: loud\n", "log_level"},
		{"publish:\n  grace: -1s\n", "publish.grace"},
		{"rtmp_listen: \"\"\n", "rtmp_listen"},
		{"http_timeouts:\n  idle: 0s\n", "http_timeouts.idle"},
		{"http_timeouts:\n  read_header: -1s\n", "http_timeouts.read_header"},
		{"cors:\n  credential_origins: [https://a.example/page]\n", "cors.credential_origins"},
		{"cors:\n  credential_origins: [\"*\"]\n", "cors.credential_origins"},
		{"admin:\n  hosts: [\"m.internal:9090\"]\n", "admin.hosts"},
		{"pulls:\n  - stream: live/a b\n    url: http://o/x.flv\n", `line 2: pulls[0].stream: bad name: stream name has ' '`},
		{"pulls:\n  - stream: ../x\n    url: http://o/x.flv\n", "line 2: pulls[0].stream: bad name: app name starts with '.'"},
		{"upstream:\n  app_origins:\n    \"a/b\": [http://o]\n", `line 3: upstream.app_origins."a/b": bad name`},
		{"upstream:\n  node_id: a,b\n", "upstream.node_id"},
		{"[", "yaml"},
	} {
		_, err := Load(write(t, tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.file, err, tc.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1500": 1500, "64MiB": 64 << 20, "2 KiB": 2048, "1GB": 1e9, "10B": 10} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1TiB", "99999999999GiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flvedge.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDeploySamplesAreValid loads every sample under deploy/configs, so that
// a renamed or removed key cannot leave them stale.
func TestDeploySamplesAreValid(t *testing.T) {
	samples, err := filepath.Glob("../deploy/configs/*.yaml")
	if err != nil || len(samples) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	for _, path := range samples {
		if _, err := Load(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
