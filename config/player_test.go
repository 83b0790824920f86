package config

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestPlayerMpegtsURL: the key is checked by web.CheckMpegtsURL (whose
// cases are web's), and named in the error.
func TestPlayerMpegtsURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"/static/mpegts.js", true},
		{"javascript:alert(1)", false},
	} {
		err := Player{MpegtsURL: tc.url}.check()
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.url, err)
		}
		if err != nil && !strings.Contains(err.Error(), "player.mpegts_url") {
			t.Errorf("%q: the error does not name the key: %v", tc.url, err)
		}
	}
}

// TestDefaultMpegtsURLIsThePinnedVersion keeps the CDN fallback on the
// version that npm ci embeds, so that a build without it plays the same.
func TestDefaultMpegtsURLIsThePinnedVersion(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../web/player/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	pinned := lock.Packages["node_modules/mpegts.js"].Version
	if pinned == "" || !strings.Contains(c.Player.MpegtsURL, "mpegts.js@"+pinned+"/") {
		t.Fatalf("player.mpegts_url %q is not mpegts.js %q, the version pinned in web/player/package-lock.json", c.Player.MpegtsURL, pinned)
	}
}
