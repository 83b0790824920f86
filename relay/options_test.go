package relay

import (
	"strings"
	"testing"
)

// TestPullerRefusesBadSettings: NewPuller and Keep refuse what the
// config's check refuses, with the same messages.
func TestPullerRefusesBadSettings(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	for _, id := range []string{"a,b", "a b", strings.Repeat("x", 129)} {
		if _, err := NewPuller(h, PullConfig{NodeID: id}); err == nil || !strings.Contains(err.Error(), "relay: node id: at most 128 bytes") {
			t.Errorf("node id %q: %v", id, err)
		}
	}
	if _, err := NewPuller(h, PullConfig{MaxHops: -1}); err == nil {
		t.Error("negative max hops taken")
	}
	p := newPuller(t, h, PullConfig{})
	defer p.Close()
	for _, tc := range []struct{ app, name, url, want string }{
		{"live", "a b", "http://o/x.flv", "bad name: stream name has ' '"},
		{".x", "a", "http://o/x.flv", "bad name: app name starts with '.'"},
		{"live", "a", "ftp://o/x.flv", `"ftp://o/x.flv" is not an http:// or https:// URL`},
		{"live", "a", "/x.flv", "is not an http"},
	} {
		if err := p.Keep(tc.app, tc.name, tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Keep(%q, %q, %q): %v, want %q", tc.app, tc.name, tc.url, err, tc.want)
		}
	}
	if got := streamURLs([]string{"ftp://o", "http://o"}, "live", "a"); len(got) != 1 || got[0] != "http://o/live/a.flv" {
		t.Errorf("an origin CheckOrigin refuses is not left out: %v", got)
	}
}
