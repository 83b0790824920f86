package load

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a run measured. Rates, CPU and lag cover the measured
// window, which starts once every viewer has started and received its
// first keyframe; connections, times to first byte and keyframe, stalls
// and timestamp errors cover the whole run. Every figure but the lag counts
// the reference viewers (RefURL) too.
type Report struct {
	URL             string          `json:"url,omitempty"`
	Publish         string          `json:"publish,omitempty"`
	Streams         int             `json:"streams,omitempty"` // streams published at once
	File            string          `json:"file,omitempty"`
	Viewers         int             `json:"viewers"`
	Launched        int             `json:"launched"` // fewer than Viewers when interrupted
	RampSeconds     float64         `json:"ramp_seconds"`
	MeasuredSeconds float64         `json:"measured_seconds"`
	Interrupted     bool            `json:"interrupted,omitempty"`
	Connections     Connections     `json:"connections"`
	Delivered       Delivered       `json:"delivered"`
	TTFB            Percentiles     `json:"time_to_first_byte_ms"`
	TTFK            Percentiles     `json:"time_to_first_keyframe_ms"`
	Lag             Lag             `json:"delivery_lag_ms"`
	RefURL          string          `json:"ref_url,omitempty"`
	RefViewers      int             `json:"ref_viewers,omitempty"`
	RefLag          *Lag            `json:"ref_delivery_lag_ms,omitempty"` // the viewers of RefURL
	Stalls          int             `json:"stalls"`                        // silences of over a second
	StalledViewers  int             `json:"stalled_viewers"`
	TimestampErrors int64           `json:"timestamp_errors"` // a track's timestamp going back
	Server          *ServerStats    `json:"server,omitempty"`
	BenchCPUSeconds float64         `json:"bench_cpu_seconds"`
	Publisher       *PublisherStats `json:"publisher,omitempty"`
}

// Connections counts viewers: OK ones were still receiving at the end.
type Connections struct {
	OK       int                `json:"ok"`
	Failed   int                `json:"failed"`
	Failures map[string]Failure `json:"failures,omitempty"` // by cause
}

// Failure is one cause of failed viewers, with one of their errors.
type Failure struct {
	Count   int    `json:"count"`
	Example string `json:"example"`
}

// Delivered is the FLV bytes viewers received in the measured window.
type Delivered struct {
	Bytes             int64   `json:"bytes"`
	TotalMbps         float64 `json:"total_mbps"`
	PerViewerMeanMbps float64 `json:"per_viewer_mean_mbps"`
	PerViewerMinMbps  float64 `json:"per_viewer_min_mbps"`
}

// Percentiles of one value per viewer, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
}

// Lag is how long after a tag was published viewers received it, over all
// audio and video tags received in the measured window.
type Lag struct {
	// Reference is "publish" when the tool published the stream and knows
	// when each tag left, and "first_viewer" otherwise: then a tag's lag is
	// counted from the first viewer to receive it, which hides what all
	// viewers wait alike.
	Reference string  `json:"reference"`
	Samples   uint64  `json:"samples"`
	P50       float64 `json:"p50"`
	P99       float64 `json:"p99"`
	Max       float64 `json:"max"`
	// Unmatched counts tags received whose timestamp was never published:
	// a server that rewrites timestamps, or another stream than the one
	// published.
	Unmatched int64 `json:"unmatched,omitempty"`
}

func (l *Lag) set(h *histogram, reference string) {
	l.Reference = reference
	if h.n > 0 {
		l.Samples = h.n
		l.P50 = h.quantile(0.5) / 1e3
		l.P99 = h.quantile(0.99) / 1e3
		l.Max = float64(h.max) / 1e3
	}
}

// ServerStats is what /proc told of the server.
type ServerStats struct {
	PID               int     `json:"pid"`
	CPUSeconds        float64 `json:"cpu_seconds"`
	CPUSecondsPerGB   float64 `json:"cpu_seconds_per_gb"`
	IdleRSSBytes      int64   `json:"idle_rss_bytes"`
	RSSBytes          int64   `json:"rss_bytes"` // at the end of the measured window
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	RSSPerViewerBytes int64   `json:"rss_per_viewer_bytes"` // above the idle RSS, per OK viewer
	Error             string  `json:"error,omitempty"`
}

// PublisherStats is what the tool published over the whole run.
type PublisherStats struct {
	Tags          int64   `json:"tags"`
	Mbps          float64 `json:"mbps"`
	MaxLateMillis float64 `json:"max_late_ms"` // how far behind real time a tag went out, at worst
}

// fill computes the report from the viewers and the two ends of the
// measured window.
func (rep *Report) fill(r *runner, viewers []viewer, start, end snapshot, mon *monitor, server *serverProbe) {
	window := end.at.Sub(start.at)
	rep.MeasuredSeconds = window.Seconds()
	rep.Stalls, rep.StalledViewers = mon.stalls, mon.stalledViewers
	rep.BenchCPUSeconds = (end.self - start.self).Seconds()

	var ttfb, ttfk, rates []float64
	var lag, refLag histogram
	for i := range viewers {
		v := &viewers[i]
		got := end.bytes[i] - start.bytes[i]
		rep.Delivered.Bytes += got
		switch viewerState(v.state.Load()) {
		case viewerDone:
			rep.Connections.OK++
			rates = append(rates, mbps(got, window))
		case viewerFailed:
			rep.Connections.Failed++
			if rep.Connections.Failures == nil {
				rep.Connections.Failures = make(map[string]Failure)
			}
			f := rep.Connections.Failures[v.failure]
			if f.Count == 0 && v.failErr != nil {
				f.Example = v.failErr.Error()
			}
			f.Count++
			rep.Connections.Failures[v.failure] = f
		}
		if v.ttfb > 0 {
			ttfb = append(ttfb, float64(v.ttfb)/1e3)
		}
		if t := v.ttfk.Load(); t > 0 {
			ttfk = append(ttfk, float64(t)/1e3)
		}
		if v.ref {
			refLag.merge(&v.lag)
		} else {
			lag.merge(&v.lag)
			rep.Lag.Unmatched += v.unmatched
		}
		rep.TimestampErrors += v.tsErrors.Load()
	}
	rep.Delivered.TotalMbps = mbps(rep.Delivered.Bytes, window)
	if len(rates) > 0 {
		var sum float64
		for _, x := range rates {
			sum += x
		}
		rep.Delivered.PerViewerMeanMbps = sum / float64(len(rates))
		rep.Delivered.PerViewerMinMbps = slices.Min(rates)
	}
	rep.TTFB = percentiles(ttfb)
	rep.TTFK = percentiles(ttfk)

	reference := "first_viewer"
	if r.publishing {
		reference = "publish"
	}
	rep.Lag.set(&lag, reference)
	if rep.RefURL != "" {
		rep.RefLag = &Lag{}
		rep.RefLag.set(&refLag, reference)
	}

	rep.Server = serverStats(server, start, end, rep.Delivered.Bytes, rep.Connections.OK)
}

// serverStats is what the server spent over the measured window, for
// delivered bytes to clients (viewers or readers); nil without a server.
func serverStats(server *serverProbe, start, end snapshot, delivered int64, clients int) *ServerStats {
	if server == nil {
		return nil
	}
	s := &ServerStats{PID: server.pid, IdleRSSBytes: server.idleRSS, PeakRSSBytes: server.peakRSS.Load()}
	if err := cmp.Or(start.proc, end.proc); err != nil {
		s.Error = err.Error()
		return s
	}
	if n := server.failures.Load(); n > 0 {
		s.Error = fmt.Sprintf("%d samples of /proc/%d failed", n, server.pid)
	}
	s.CPUSeconds = (end.server.cpu - start.server.cpu).Seconds()
	if delivered > 0 {
		s.CPUSecondsPerGB = s.CPUSeconds / (float64(delivered) / 1e9)
	}
	s.RSSBytes = end.server.rss
	s.PeakRSSBytes = max(s.PeakRSSBytes, s.RSSBytes)
	if clients > 0 {
		s.RSSPerViewerBytes = (s.RSSBytes - s.IdleRSSBytes) / int64(clients)
	}
	return s
}

func percentiles(values []float64) Percentiles {
	if len(values) == 0 {
		return Percentiles{}
	}
	q := quantiles(values, 0.5, 0.99)
	return Percentiles{Count: len(values), P50: q[0], P99: q[1]}
}

// WriteTable writes the report for a person to read.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	if p := rep.Publisher; p != nil {
		row("published", "%s from %s", rep.Publish, rep.File)
		if rep.Streams > 1 {
			row("", "and %d more streams (-2 to -%d)", rep.Streams-1, rep.Streams)
		}
		row("", "%d tags, %.2f Mbit/s, at worst %s behind real time", p.Tags, p.Mbps, formatMillis(p.MaxLateMillis))
	}
	if rep.URL == "" {
		row("published for", "%s", seconds(rep.MeasuredSeconds))
		return tw.Flush()
	}
	row("url", "%s", rep.URL)
	viewers := fmt.Sprintf("%d", rep.Viewers)
	if rep.RefViewers > 0 {
		viewers += fmt.Sprintf(" + %d of the reference", rep.RefViewers)
	}
	if total := rep.Viewers + rep.RefViewers; rep.Launched != total {
		viewers = fmt.Sprintf("%d of %s started", rep.Launched, viewers)
	}
	row("viewers", "%s, ramp %s, measured %s%s", viewers, seconds(rep.RampSeconds), seconds(rep.MeasuredSeconds),
		map[bool]string{true: " (interrupted)"}[rep.Interrupted])

	c := rep.Connections
	row("connections", "%d ok, %d failed", c.OK, c.Failed)
	causes := slices.SortedFunc(maps.Keys(c.Failures), func(a, b string) int {
		return cmp.Or(cmp.Compare(c.Failures[b].Count, c.Failures[a].Count), strings.Compare(a, b))
	})
	for _, cause := range causes {
		row("", "%d %s: %s", c.Failures[cause].Count, cause, c.Failures[cause].Example)
	}

	d := rep.Delivered
	row("delivered", "%.1f Mbit/s, per viewer %.2f (min %.2f)", d.TotalMbps, d.PerViewerMeanMbps, d.PerViewerMinMbps)
	row("first byte", "%s", rep.TTFB)
	row("first keyframe", "%s", rep.TTFK)
	lagRow := func(name string, l Lag) {
		if l.Samples == 0 {
			row(name, "-")
			return
		}
		since := "since published"
		if l.Reference != "publish" {
			since = "behind the first viewer to get each tag"
		}
		row(name, "p50 %s, p99 %s, max %s (%s; %d tags)", formatMillis(l.P50), formatMillis(l.P99), formatMillis(l.Max), since, l.Samples)
	}
	lagRow("delivery lag", rep.Lag)
	if l := rep.Lag; l.Unmatched > 0 {
		row("", "%d tags with a timestamp never published: not counted", l.Unmatched)
	}
	if rep.RefLag != nil {
		lagRow("reference lag", *rep.RefLag)
		row("", "%d viewers of %s", rep.RefViewers, rep.RefURL)
	}
	row("stalls (> 1 s)", "%d, in %d viewers", rep.Stalls, rep.StalledViewers)
	row("timestamp errors", "%d", rep.TimestampErrors)
	rep.Server.writeRows(row, "viewer")
	row("bench cpu", "%.2f s", rep.BenchCPUSeconds)
	return tw.Flush()
}

// writeRows adds the server's rows to a table, with RSS per client.
func (s *ServerStats) writeRows(row func(name, format string, args ...any), client string) {
	if s == nil {
		return
	}
	if s.Error != "" {
		row("server", "pid %d: %s", s.PID, s.Error)
	}
	perGB := "-"
	if s.CPUSecondsPerGB > 0 {
		perGB = fmt.Sprintf("%.2f", s.CPUSecondsPerGB)
	}
	row("server cpu", "%.2f s, %s CPU-s/GB delivered", s.CPUSeconds, perGB)
	row("server rss", "idle %s, end %s (peak %s), %s per %s", formatBytes(float64(s.IdleRSSBytes)),
		formatBytes(float64(s.RSSBytes)), formatBytes(float64(s.PeakRSSBytes)), formatBytes(float64(s.RSSPerViewerBytes)), client)
}

func (p Percentiles) String() string {
	if p.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s, p99 %s", formatMillis(p.P50), formatMillis(p.P99))
}

func seconds(s float64) string {
	return (time.Duration(s*10) * time.Second / 10).String()
}

// formatMillis shows about three significant digits.
func formatMillis(ms float64) string {
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func formatBytes(b float64) string {
	const k = 1024
	switch {
	case b < 0:
		return "-" + formatBytes(-b)
	case b < k:
		return fmt.Sprintf("%.0f B", b)
	case b < k*k:
		return fmt.Sprintf("%.1f KiB", b/k)
	case b < k*k*k:
		return fmt.Sprintf("%.1f MiB", b/k/k)
	}
	return fmt.Sprintf("%.2f GiB", b/k/k/k)
}
