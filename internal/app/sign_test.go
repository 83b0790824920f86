package app

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
)

func TestSign(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "flvedge.yaml")
	os.WriteFile(cfgFile, []byte(`
access:
  play:
    - path: /
      token: {scheme: md5, secrets: [s3cret], bind_ip: exact}
    - path: /free/
      token: {scheme: none}
  publish:
    - app: live
      token: {scheme: md5, secrets: [pubsecret]}
`), 0o600)
	// The expected tokens are the openssl-computed fixtures of auth's tests.
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--secure-token-secret", "s3cret", "--expires", "2000000000", "/live/x.flv"},
			"/live/x.flv?md5=9iAuffAIMgXPEDKLrDyVUA&expires=2000000000"},
		{[]string{"--secure-token-secret", "s3cret", "--expires", "2000000000", "--in-path", "--base", "https://edge.example/", "/live/x.flv"},
			"https://edge.example/9iAuffAIMgXPEDKLrDyVUA/2000000000/live/x.flv"},
		{[]string{"--secure-token-secret", "s3cret", "--expires", "2000000000", "/live/"},
			"/live/?md5=vl9ZSoiTYSObQSKp77RHdA&expires=2000000000"},
		{[]string{"--config", cfgFile, "--expires", "2000000000", "--ip", "203.0.113.7", "/live/x.flv"},
			"/live/x.flv?md5=1MDBCH5671s8h0FjJeWizg&expires=2000000000"},
		{[]string{"--config", cfgFile, "--expires", "2000000000", "--publish", "--base", "rtmp://ingest.example", "live/cam1"},
			"rtmp://ingest.example/live/cam1?md5=IcCuIj1k12bYSTveqoflqQ&expires=2000000000"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if err := Sign(c.args, &out, io.Discard); err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		if got := strings.TrimSpace(out.String()); got != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.args, got, c.want)
		}
	}

	var out bytes.Buffer
	if err := Sign([]string{"--secure-token-secret", "s3cret", "--expires", "90m", "/live/x.flv"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "expires=") {
		t.Fatalf("duration expiry: %s", out.String())
	}

	for _, args := range [][]string{
		{"/live/x.flv"}, // no token rule at all
		{"--config", cfgFile, "/free/x.flv"},
		{"--config", cfgFile, "/live/x.flv"}, // bound to an address not given
		{"--config", cfgFile, "--publish", "other/cam1"},
		{"--config", cfgFile, "--publish", "cam1"},
		{"--secure-token-secret", "s", "--expires", "soon", "/live/x.flv"},
		{"--secure-token-secret", "s", "--ip", "nowhere", "/live/x.flv"},
		{"--secure-token-secret", "s"},
		{"--secure-token-secret", "s", "live/x.flv"},
		{"--config", "/nonexistent.yaml", "/live/x.flv"},
	} {
		if err := Sign(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Unix(1900000000, 0)
	if got, _ := parseExpiry("24h", now); !got.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("24h: %v", got)
	}
	if got, _ := parseExpiry("2000000000", now); got.Unix() != 2000000000 {
		t.Errorf("Unix time: %v", got)
	}
	for _, bad := range []string{"", "-1h", "0s", "tomorrow"} {
		if _, err := parseExpiry(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSecureTokenSecretFlag(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "flvedge.yaml")
	os.WriteFile(cfgFile, []byte("access:\n  secure_token_secrets: [from-file]\n"), 0o600)
	for _, role := range []Role{Ingest, Edge} {
		o, err := parseFlags(role, []string{"--config", cfgFile, "--secure-token-secret", "a", "--secure-token-secret", "b"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(o.configPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.apply(&cfg); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(cfg.Access.SecureTokenSecrets, ","); got != "a,b" {
			t.Errorf("%s: secrets %s, want the flags' a,b replacing the file's", role, got)
		}
	}
}
