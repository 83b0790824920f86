package web

import (
	"io"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flvedge/flvedge/relay"
)

// OtherStreams is the stream label of the streams beyond the cap, added
// together, so that a server with many streams keeps a bounded number of
// series.
const OtherStreams = "_other"

// Metrics are the server's Prometheus metrics: per-stream figures read from
// the hub at scrape time (nothing is counted per tag), and request counts.
type Metrics struct {
	hub        *relay.Hub
	maxStreams int

	requests *prometheus.CounterVec
	desc     map[string]*prometheus.Desc
}

// NewMetrics registers the metrics of hub in reg; at most maxStreams streams
// get series of their own.
func NewMetrics(reg prometheus.Registerer, hub *relay.Hub, maxStreams int) *Metrics {
	m := &Metrics{
		hub:        hub,
		maxStreams: maxStreams,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flvedge_http_requests_total",
			Help: "HTTP requests answered, by status class (2xx, 3xx, 4xx, 5xx) and protocol.",
		}, []string{"class", "proto"}),
		desc: make(map[string]*prometheus.Desc),
	}
	for _, d := range streamMetrics {
		labels := []string{"app", "stream"}
		if d.name == "flvedge_stream_upstream_state" {
			labels = append(labels, "state")
		}
		m.desc[d.name] = prometheus.NewDesc(d.name, d.help, labels, nil)
	}
	reg.MustRegister(m.requests, m)
	return m
}

type streamMetric struct {
	name, help string
	kind       prometheus.ValueType
	value      func(relay.Stats) float64
}

var streamMetrics = []streamMetric{
	{"flvedge_stream_viewers", "Viewers watching now.", prometheus.GaugeValue,
		func(s relay.Stats) float64 { return float64(s.Viewers) }},
	{"flvedge_stream_viewer_sessions_total", "Viewer sessions started.", prometheus.CounterValue,
		func(s relay.Stats) float64 { return float64(s.ViewerSessions) }},
	{"flvedge_stream_bytes_out_total", "Bytes sent to viewers.", prometheus.CounterValue,
		func(s relay.Stats) float64 { return float64(s.BytesOut) }},
	{"flvedge_stream_bytes_in_total", "Tag bytes received from the publisher or origin.", prometheus.CounterValue,
		func(s relay.Stats) float64 { return float64(s.BytesIn) }},
	{"flvedge_stream_input_bytes_per_second", "Incoming rate in bytes per second (bitrate / 8), over the last seconds.", prometheus.GaugeValue,
		func(s relay.Stats) float64 { return s.BitrateIn / 8 }},
	{"flvedge_stream_video_fps", "Incoming video frames per second.", prometheus.GaugeValue,
		func(s relay.Stats) float64 { return s.FPS }},
	{"flvedge_stream_keyframe_interval_seconds", "Time between the last two keyframes.", prometheus.GaugeValue,
		func(s relay.Stats) float64 { return s.KeyframeInterval.Seconds() }},
	{"flvedge_stream_skips_total", "Times a slow viewer was moved to the newest keyframe.", prometheus.CounterValue,
		func(s relay.Stats) float64 { return float64(s.Skips) }},
	{"flvedge_stream_upstream_failovers_total", "Moves of a pulled stream to another origin.", prometheus.CounterValue,
		func(s relay.Stats) float64 { return float64(s.Upstream.Failovers) }},
	{"flvedge_stream_upstream_reconnects_total", "New connections of a pulled stream to the same origin.", prometheus.CounterValue,
		func(s relay.Stats) float64 { return float64(s.Upstream.Reconnects) }},
	{"flvedge_stream_live", "1 while a publisher or origin feeds the stream.", prometheus.GaugeValue,
		func(s relay.Stats) float64 { return boolFloat(s.Live) }},
	{"flvedge_stream_upstream_state", "1 for the pulled stream's upstream state.", prometheus.GaugeValue, nil},
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Describe sends the per-stream descriptions.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.desc {
		ch <- d
	}
}

// Collect reads every stream's figures; the streams past the cap are added
// together under the stream label OtherStreams.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	streams := m.hub.Streams()
	type key struct{ app, stream string }
	sums := map[key][]float64{}
	var order []key
	for i, s := range streams {
		st := s.Stats()
		k := key{st.App, st.Name}
		if m.maxStreams > 0 && i >= m.maxStreams {
			k.stream = OtherStreams
		} else if st.Upstream.State != "" {
			ch <- prometheus.MustNewConstMetric(m.desc["flvedge_stream_upstream_state"], prometheus.GaugeValue, 1, st.App, st.Name, st.Upstream.State)
		}
		if sums[k] == nil {
			sums[k] = make([]float64, len(streamMetrics))
			order = append(order, k)
		}
		for j, d := range streamMetrics {
			if d.value != nil {
				sums[k][j] += d.value(st)
			}
		}
	}
	for _, k := range order {
		for j, d := range streamMetrics {
			if d.value != nil {
				ch <- prometheus.MustNewConstMetric(m.desc[d.name], d.kind, sums[k][j], k.app, k.stream)
			}
		}
	}
}

// CountRequests wraps next so that every response is counted by status
// class and protocol.
func (m *Metrics) CountRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.requests.WithLabelValues(strconv.Itoa(rec.status/100)+"xx", protoLabel(r)).Inc()
	})
}

func protoLabel(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "h2"
	case 3:
		return "h3"
	}
	return "http1"
}

// statusRecorder remembers the status a handler sent. Unwrap lets
// http.ResponseController reach the connection (flush, deadlines, hijack).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(p)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ReadFrom keeps the connection's sendfile path for the stored bytes of
// VOD responses, which http.ServeContent hands over through io.ReaderFrom.
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.wrote = true
	return io.Copy(r.ResponseWriter, src)
}
