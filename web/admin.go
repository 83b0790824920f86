package web

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flvedge/flvedge/relay"
)

// AdminAccess is who may use the admin listener.
type AdminAccess struct {
	// Token, as a bearer token, allows DELETE and passes the Host check.
	// Empty: DELETE is refused.
	Token string
	// Hosts are the host names that requests may give in Host beside
	// localhost and IP addresses (any port): the listen address's name and
	// the configured ones.
	Hosts []string
}

// NewAdminHandler serves what operators and their tools ask a server:
// /metrics for Prometheus; the stats API: GET /api/streams,
// GET /api/streams/{app}/{stream}, and DELETE of the latter to disconnect
// the stream's publisher, which needs the admin token as a bearer token;
// and the probes of load balancers and Kubernetes: /healthz (the process
// serves) and /readyz (it takes new viewers: 503 while ready says no, when
// draining).
//
// Everything but the probes needs a Host that access allows, or the token:
// a web page that a visitor opens could otherwise reach the listener on
// the visitor's machine or network through a DNS name of its own that
// points there (DNS rebinding). An IP address in Host is no such name.
func NewAdminHandler(hub *relay.Hub, gatherer prometheus.Gatherer, access AdminAccess, ready func() bool) http.Handler {
	adminToken := access.Token
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/streams", func(w http.ResponseWriter, r *http.Request) {
		list := []StreamInfo{}
		for _, s := range hub.Streams() {
			list = append(list, streamInfo(s.Stats()))
		}
		writeJSON(w, list)
	})
	mux.HandleFunc("GET /api/streams/{app}/{stream}", func(w http.ResponseWriter, r *http.Request) {
		s := hub.Lookup(r.PathValue("app"), r.PathValue("stream"))
		if s == nil {
			http.Error(w, "stream not found", http.StatusNotFound)
			return
		}
		writeJSON(w, streamInfo(s.Stats()))
	})
	mux.HandleFunc("DELETE /api/streams/{app}/{stream}", func(w http.ResponseWriter, r *http.Request) {
		if !bearerMatches(r, adminToken) {
			http.Error(w, "admin token required", http.StatusForbidden)
			return
		}
		s := hub.Lookup(r.PathValue("app"), r.PathValue("stream"))
		if s == nil || !s.Kick() {
			http.Error(w, "no publisher for this stream", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		if !probe && !access.allowsHost(r.Host) && !bearerMatches(r, adminToken) {
			http.Error(w, "unknown host", http.StatusMisdirectedRequest)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// allowsHost reports whether a request's Host names this listener: an IP
// address, localhost, or one of Hosts. No Host at all (HTTP/1.0 tools) is
// no browser's request.
func (a AdminAccess) allowsHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if host == "" || strings.EqualFold(host, "localhost") {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return slices.ContainsFunc(a.Hosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// bearerMatches checks "Authorization: Bearer TOKEN" in constant time; an
// empty configured token matches nothing.
func bearerMatches(r *http.Request, token string) bool {
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(given), []byte(token)) == 1
}

// StreamInfo is a stream in the stats API.
type StreamInfo struct {
	App              string  `json:"app"`
	Stream           string  `json:"stream"`
	Live             bool    `json:"live"`
	UptimeSeconds    float64 `json:"uptime_seconds"`
	Viewers          int     `json:"viewers"`
	ViewerSessions   uint64  `json:"viewer_sessions"`
	BytesIn          uint64  `json:"bytes_in"`
	BytesOut         uint64  `json:"bytes_out"`
	BitrateIn        float64 `json:"bitrate_in"`
	VideoCodec       string  `json:"video_codec,omitempty"`
	AudioCodec       string  `json:"audio_codec,omitempty"`
	Width            int     `json:"width,omitempty"`
	Height           int     `json:"height,omitempty"`
	FPS              float64 `json:"fps"`
	GOPSeconds       float64 `json:"gop_seconds"`
	AudioSampleRate  int     `json:"audio_sample_rate,omitempty"`
	Skips            uint64  `json:"skips"`
	UpstreamOrigin   string  `json:"upstream_origin,omitempty"`
	UpstreamState    string  `json:"upstream_state,omitempty"`
	UpstreamFailover uint64  `json:"upstream_failovers"`
}

func streamInfo(st relay.Stats) StreamInfo {
	return StreamInfo{
		App: st.App, Stream: st.Name, Live: st.Live,
		UptimeSeconds:  time.Since(st.Since).Round(time.Second).Seconds(),
		Viewers:        st.Viewers,
		ViewerSessions: st.ViewerSessions,
		BytesIn:        st.BytesIn, BytesOut: st.BytesOut,
		BitrateIn:  st.BitrateIn,
		VideoCodec: st.VideoCodec, AudioCodec: st.AudioCodec,
		Width: st.Width, Height: st.Height, FPS: st.FPS,
		GOPSeconds:       st.KeyframeInterval.Seconds(),
		AudioSampleRate:  st.AudioSampleRate,
		Skips:            st.Skips,
		UpstreamOrigin:   st.Upstream.Origin,
		UpstreamState:    st.Upstream.State,
		UpstreamFailover: st.Upstream.Failovers,
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
