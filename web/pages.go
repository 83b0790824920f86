package web

import (
	"net/http"
	"net/url"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/web/player"
)

// Pages are what the HTTP listener serves to people beside the streams: the
// player page and the public list of streams.
type Pages struct {
	// Player serves the player page at / and /player?url=URL, and its files
	// under /player/.
	Player bool
	// MpegtsURL is where the page loads mpegts.js from when the build has
	// none (see player.Embedded).
	MpegtsURL string
	// StreamList answers GET /api/streams with the streams of Hub, the
	// fields a player needs and no more.
	StreamList bool
	Hub        *relay.Hub
	// Guard, if set, hides from the list the streams that need a token to
	// play: their names are for those who were given a signed URL.
	Guard *auth.Guard
	// CORS is what pages on other sites may read of the list.
	CORS CORS
}

// WithPages serves p in front of next, the handler of NewGuardedHandler.
// The pages hold no media, so they are not behind the access guard; the
// streams they play are. Only /player/{name} for the page's own files is
// taken from the play routes: /player/x.flv still plays a live app named
// player.
func WithPages(next http.Handler, p Pages) http.Handler {
	if !p.Player && !p.StreamList {
		return next
	}
	mux := http.NewServeMux()
	mux.Handle("/", next)
	if p.Player {
		page := player.New(player.Config{MpegtsURL: p.MpegtsURL, StreamList: p.StreamList})
		mux.Handle("GET /{$}", page)
		mux.Handle("GET /player", page)
		mux.HandleFunc("GET /player/{name}", func(w http.ResponseWriter, r *http.Request) {
			if !page.ServeFile(w, r, r.PathValue("name")) {
				next.ServeHTTP(w, r)
			}
		})
	}
	if p.StreamList {
		// CORS, as for the streams: a player page elsewhere may list them.
		mux.Handle("GET /api/streams", p.CORS.wrap(streamList(p.Hub, p.Guard)))
	}
	return mux
}

// PublicStream is a stream in the public list: where to play it and what it
// is, nothing about its clients, origins or traffic (the stats API on the
// admin listener has those).
type PublicStream struct {
	App        string `json:"app"`
	Stream     string `json:"stream"`
	Path       string `json:"path"` // the live URL's path: /live/x.flv
	Live       bool   `json:"live"` // false while viewers wait for a publisher
	VideoCodec string `json:"video_codec,omitempty"`
	AudioCodec string `json:"audio_codec,omitempty"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
}

func streamList(hub *relay.Hub, guard *auth.Guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list := []PublicStream{}
		for _, s := range hub.Streams() {
			st := s.Stats()
			if guard != nil && guard.NeedsToken("/"+st.App+"/"+st.Name+".flv") {
				continue
			}
			list = append(list, PublicStream{
				App: st.App, Stream: st.Name,
				Path:       "/" + url.PathEscape(st.App) + "/" + url.PathEscape(st.Name) + ".flv",
				Live:       st.Live,
				VideoCodec: st.VideoCodec, AudioCodec: st.AudioCodec,
				Width: st.Width, Height: st.Height,
			})
		}
		writeJSON(w, list)
	})
}
