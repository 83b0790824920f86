package config

import "github.com/flvedge/flvedge/web"

// Player is the player page and the public stream list on the HTTP
// listener.
type Player struct {
	Enabled    bool   `yaml:"enabled"`
	StreamList bool   `yaml:"stream_list"`
	MpegtsURL  string `yaml:"mpegts_url"`
}

func (p Player) check() error {
	return at(web.CheckMpegtsURL(p.MpegtsURL), "player", "mpegts_url")
}
