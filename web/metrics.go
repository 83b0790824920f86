package web

import (
	"io"
	"net/http"
	"strings"
	"sync"

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

	// Requests per stream and status class, counted as they end. At most
	// maxStreams streams have counters of their own; the requests of
	// others add up under {app, OtherStreams}. A stream's counters go
	// after the first scrape that finds it gone from the hub and none of
	// its requests still open: a viewer ends after its stream does, and
	// a series forgotten before it is counted would start again from
	// one, a count that a rate over the scrapes never sees.
	streamRequests *prometheus.Desc
	mu             sync.Mutex
	perStream      map[streamKey]*streamCounts
	ownSeries      int // keys of perStream with a stream of their own
}

type streamKey struct{ app, stream string }

// streamCounts is one series of flvedge_stream_requests_total.
type streamCounts struct {
	ended [len(statusClasses)]uint64 // requests ended, by status class
	open  int                        // requests counted here when they end
}

// statusClasses are the labels of the status classes; a status outside
// 100-599 counts as the nearest.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(status int) int { return min(max(status/100-1, 0), len(statusClasses)-1) }

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
		streamRequests: prometheus.NewDesc("flvedge_stream_requests_total",
			"Requests of a live stream (viewers, refusals), by status class, counted when they end.",
			[]string{"app", "stream", "class"}, nil),
		perStream: make(map[streamKey]*streamCounts),
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
	ch <- m.streamRequests
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
	m.collectRequests(ch, streams)
}

// collectRequests sends the requests per stream, then forgets the streams
// that are gone with no request open (and the OtherStreams sum of an app
// without either): their last counts were just sent.
func (m *Metrics) collectRequests(ch chan<- prometheus.Metric, streams []*relay.Stream) {
	live := make(map[streamKey]bool, len(streams))
	for _, s := range streams {
		live[streamKey{s.App, s.Name}] = true
		live[streamKey{s.App, OtherStreams}] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, counts := range m.perStream {
		for class, n := range counts.ended {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(m.streamRequests, prometheus.CounterValue, float64(n), k.app, k.stream, statusClasses[class])
			}
		}
		if !live[k] && counts.open == 0 {
			delete(m.perStream, k)
			if k.stream != OtherStreams {
				m.ownSeries--
			}
		}
	}
}

// seriesOf is the series that counts the requests of the live stream
// app/name: its own, or its app's OtherStreams past the cap. Called with mu
// held.
func (m *Metrics) seriesOf(app, name string) *streamCounts {
	k := streamKey{app, name}
	counts := m.perStream[k]
	if counts == nil {
		// A stream named OtherStreams is counted in the sum of that
		// name, as its other figures are: a series of its own would be
		// taken for the sum when it goes, and its place never given back.
		if name == OtherStreams || m.ownSeries >= m.maxStreams {
			k.stream = OtherStreams
			counts = m.perStream[k]
		} else {
			m.ownSeries++
		}
	}
	if counts == nil {
		counts = new(streamCounts)
		m.perStream[k] = counts
	}
	return counts
}

// countStream counts a request of the live stream app/name that ended with
// status.
func (m *Metrics) countStream(app, name string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seriesOf(app, name).ended[statusClass(status)]++
}

// openStream keeps the series of app/name until the request now starting
// has been counted in it (by endOpen).
func (m *Metrics) openStream(app, name string) *streamCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	counts := m.seriesOf(app, name)
	counts.open++
	return counts
}

// endOpen counts a request that openStream kept its series for.
func (m *Metrics) endOpen(counts *streamCounts, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	counts.ended[statusClass(status)]++
	counts.open--
}

// CountRequests wraps next so that every request is counted when it ends,
// with its final status: by status class and protocol, and per stream for
// the requests of a live stream (one that the live handler served, or one
// that the hub has when the request ends: refused by the access rules).
// A live viewer's request ends with its session (see exchange), on every
// HTTP version.
func (m *Metrics) CountRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r, ex := exchangeOf(r)
		c := &requestCount{m: m, proto: protoLabel(r)}
		ex.count = c
		// Deferred: a handler that aborts its response (a panic that
		// net/http recovers) is counted too, with the status it sent, or
		// as a 500 if it sent none (the client got no answer), and gives
		// back the series countStreamOf kept for it.
		returned := false
		defer func() {
			if ex.taken {
				return
			}
			if c.stream == "" {
				if app, name, ok := streamOfPath(r.URL.Path); ok && m.hub.Lookup(app, name) != nil {
					c.app, c.stream = app, name
				}
			}
			status := rec.status
			if !returned && !rec.wrote {
				status = http.StatusInternalServerError
			}
			c.end(status)
		}()
		next.ServeHTTP(rec, r)
		returned = true
	})
}

// streamOfPath reads app and stream from the last two segments of a live
// path, /app/stream.flv, also behind an in-path token (/TOKEN/EXPIRES/...).
func streamOfPath(path string) (app, name string, ok bool) {
	dir, file, found := cutLast(path)
	if !found {
		return "", "", false
	}
	_, app, found = cutLast(dir)
	name, ok = strings.CutSuffix(file, ".flv")
	return app, name, found && ok && app != "" && name != ""
}

// cutLast cuts s around its last slash.
func cutLast(s string) (before, after string, found bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// requestCount is a request being counted.
type requestCount struct {
	m           *Metrics
	proto       string
	app, stream string        // the live stream it asked for, if known
	series      *streamCounts // its series, kept open since countStreamOf
}

func (c *requestCount) end(status int) {
	c.m.requests.WithLabelValues(statusClasses[statusClass(status)], c.proto).Inc()
	switch {
	case c.series != nil:
		c.m.endOpen(c.series, status)
	case c.stream != "":
		c.m.countStream(c.app, c.stream, status)
	}
}

// countStreamOf notes that r asks for the live stream app/name, so that it
// is counted for that stream when it ends, even if the stream is gone by
// then and scraped since.
func countStreamOf(r *http.Request, app, name string) {
	if _, ex := exchangeOf(r); ex.count != nil && ex.count.series == nil {
		ex.count.app, ex.count.stream = app, name
		ex.count.series = ex.count.m.openStream(app, name)
	}
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
