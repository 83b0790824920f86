package config

import (
	"fmt"
	"strings"
)

// Player is the player page and the public stream list on the HTTP
// listener.
type Player struct {
	Enabled    bool   `yaml:"enabled"`
	StreamList bool   `yaml:"stream_list"`
	MpegtsURL  string `yaml:"mpegts_url"`
}

func (p Player) check() error {
	// A path on this server ("/static/mpegts.js") lets an operator host the
	// library without a CDN and without rebuilding.
	if strings.HasPrefix(p.MpegtsURL, "/") && !strings.HasPrefix(p.MpegtsURL, "//") {
		return nil
	}
	if err := checkHTTPURL(p.MpegtsURL); err != nil {
		return fmt.Errorf("player.mpegts_url: %w, nor a path such as /static/mpegts.js", err)
	}
	return nil
}
