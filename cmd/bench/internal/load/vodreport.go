package load

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// VODReport is what a run of VOD readers measured. Bytes, requests,
// latencies, cache statuses and CPU cover the measured window, which starts
// once every reader has had a first answer; errors, reconnections and
// verified bytes cover the whole run.
type VODReport struct {
	URL             string  `json:"url"`
	FileSize        int64   `json:"file_size"`
	VerifiedAgainst string  `json:"verified_against,omitempty"` // the local copy every byte was compared with
	Readers         int     `json:"readers"`
	Launched        int     `json:"launched"` // fewer than Readers when interrupted
	RangeSize       int64   `json:"range_size"`
	Order           string  `json:"order"` // "random" or "sequential"
	RampSeconds     float64 `json:"ramp_seconds"`
	MeasuredSeconds float64 `json:"measured_seconds"`
	Interrupted     bool    `json:"interrupted,omitempty"`

	Delivered         VODDelivered `json:"delivered"`
	Requests          int64        `json:"requests"` // ranges received whole
	RequestsPerSecond float64      `json:"requests_per_second"`
	FirstByte         Percentiles  `json:"first_byte_ms"` // from sending a request
	Latency           Percentiles  `json:"latency_ms"`    // from sending a request to its last byte
	// CacheStatus counts the answers by their X-Cache-Status header ("" for
	// none).
	CacheStatus   map[string]int64   `json:"cache_status"`
	Errors        int64              `json:"errors"`
	Failures      map[string]Failure `json:"failures,omitempty"` // by cause
	Reconnects    int64              `json:"reconnects"`         // connections closed by the server after a good answer
	VerifiedBytes int64              `json:"verified_bytes"`

	Server          *ServerStats `json:"server,omitempty"`
	BenchCPUSeconds float64      `json:"bench_cpu_seconds"`
}

// VODDelivered is the body bytes readers received in the measured window.
type VODDelivered struct {
	Bytes            int64   `json:"bytes"`
	TotalGbps        float64 `json:"total_gbps"`
	PerReaderMinMbps float64 `json:"per_reader_min_mbps"`
}

// fill computes the report from the readers and the two ends of the
// measured window.
func (rep *VODReport) fill(readers []reader, start, end snapshot, server *serverProbe) {
	window := end.at.Sub(start.at)
	rep.MeasuredSeconds = window.Seconds()
	rep.BenchCPUSeconds = (end.self - start.self).Seconds()
	rep.CacheStatus = make(map[string]int64)
	var latency, firstByte histogram
	for i := range readers {
		rd := &readers[i]
		got := end.bytes[i] - start.bytes[i]
		rep.Delivered.Bytes += got
		if rate := mbps(got, window); i == 0 || rate < rep.Delivered.PerReaderMinMbps {
			rep.Delivered.PerReaderMinMbps = rate
		}
		latency.merge(&rd.latency)
		firstByte.merge(&rd.firstByte)
		for status, n := range rd.statuses {
			rep.CacheStatus[status] += n
		}
		rep.Errors += rd.errors.Load()
		for cause, f := range rd.failures {
			if rep.Failures == nil {
				rep.Failures = make(map[string]Failure)
			}
			all := rep.Failures[cause]
			all.Count += f.Count
			all.Example = cmp.Or(all.Example, f.Example)
			rep.Failures[cause] = all
		}
		rep.Requests += rd.measured
		rep.Reconnects += rd.reconnects
		rep.VerifiedBytes += rd.verified
	}
	rep.Delivered.TotalGbps = mbps(rep.Delivered.Bytes, window) / 1e3
	if window > 0 {
		rep.RequestsPerSecond = float64(rep.Requests) / window.Seconds()
	}
	rep.Latency = histPercentiles(&latency)
	rep.FirstByte = histPercentiles(&firstByte)
	rep.Server = serverStats(server, start, end, rep.Delivered.Bytes, len(readers))
}

// histPercentiles reads a histogram of microseconds in milliseconds.
func histPercentiles(h *histogram) Percentiles {
	if h.n == 0 {
		return Percentiles{}
	}
	return Percentiles{Count: int(h.n), P50: h.quantile(0.5) / 1e3, P99: h.quantile(0.99) / 1e3}
}

// WriteTable writes the report for a person to read.
func (rep *VODReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	row("url", "%s (%s)", rep.URL, formatBytes(float64(rep.FileSize)))
	readers := fmt.Sprintf("%d", rep.Readers)
	if rep.Launched != rep.Readers {
		readers = fmt.Sprintf("%d of %d started", rep.Launched, rep.Readers)
	}
	row("readers", "%s, %s ranges of %s, ramp %s, measured %s%s", readers, rep.Order, formatBytes(float64(rep.RangeSize)),
		seconds(rep.RampSeconds), seconds(rep.MeasuredSeconds), map[bool]string{true: " (interrupted)"}[rep.Interrupted])
	d := rep.Delivered
	row("delivered", "%.2f GB, %.2f Gbit/s, per reader at least %.1f Mbit/s", float64(d.Bytes)/1e9, d.TotalGbps, d.PerReaderMinMbps)
	row("requests", "%d, %.0f/s", rep.Requests, rep.RequestsPerSecond)
	row("first byte", "%s", rep.FirstByte)
	row("whole range", "%s", rep.Latency)
	statuses := slices.Sorted(maps.Keys(rep.CacheStatus))
	var counts []string
	for _, s := range statuses {
		counts = append(counts, fmt.Sprintf("%s %d", cmp.Or(s, "(none)"), rep.CacheStatus[s]))
	}
	row("X-Cache-Status", "%s", cmp.Or(strings.Join(counts, ", "), "-"))
	row("errors", "%d, %d reconnections after good answers", rep.Errors, rep.Reconnects)
	causes := slices.SortedFunc(maps.Keys(rep.Failures), func(a, b string) int {
		return cmp.Or(cmp.Compare(rep.Failures[b].Count, rep.Failures[a].Count), strings.Compare(a, b))
	})
	for _, cause := range causes {
		row("", "%d %s: %s", rep.Failures[cause].Count, cause, rep.Failures[cause].Example)
	}
	if rep.VerifiedAgainst != "" {
		row("verified", "%s compared with %s", formatBytes(float64(rep.VerifiedBytes)), rep.VerifiedAgainst)
	}
	rep.Server.writeRows(row, "reader")
	row("bench cpu", "%.2f s", rep.BenchCPUSeconds)
	return tw.Flush()
}
