package load

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWriteTable(t *testing.T) {
	rep := &Report{
		URL: "http://127.0.0.1:8080/live/b.flv", Publish: "rtmp://127.0.0.1/live/b", File: "clip.flv",
		Viewers: 100, Launched: 100, RampSeconds: 10, MeasuredSeconds: 60.02,
		Connections: Connections{OK: 97, Failed: 3, Failures: map[string]Failure{
			"http status 503":      {Count: 2, Example: "status 503"},
			"closed by the server": {Count: 1, Example: "EOF"},
		}},
		Delivered: Delivered{Bytes: 1_500_000_000, TotalMbps: 200.04, PerViewerMeanMbps: 2.0623, PerViewerMinMbps: 1.98},
		TTFB:      Percentiles{Count: 100, P50: 0.512, P99: 3.3},
		TTFK:      Percentiles{Count: 100, P50: 1.234, P99: 45.67},
		Lag:       Lag{Reference: "publish", Samples: 123456, P50: 0.4, P99: 12.34, Max: 210.4, Unmatched: 5},
		Stalls:    2, StalledViewers: 1, TimestampErrors: 0,
		Server: &ServerStats{PID: 42, CPUSeconds: 3.6, CPUSecondsPerGB: 2.4, IdleRSSBytes: 20 << 20,
			RSSBytes: 26 << 20, PeakRSSBytes: 27 << 20, RSSPerViewerBytes: 63 << 10},
		BenchCPUSeconds: 5.5,
		Publisher:       &PublisherStats{Tags: 4500, Mbps: 2.04, MaxLateMillis: 1.5},
	}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `published         rtmp://127.0.0.1/live/b from clip.flv
                  4500 tags, 2.04 Mbit/s, at worst 1.50 ms behind real time
url               http://127.0.0.1:8080/live/b.flv
viewers           100, ramp 10s, measured 1m0s
connections       97 ok, 3 failed
                  2 http status 503: status 503
                  1 closed by the server: EOF
delivered         200.0 Mbit/s, per viewer 2.06 (min 1.98)
first byte        p50 0.51 ms, p99 3.30 ms
first keyframe    p50 1.23 ms, p99 45.7 ms
delivery lag      p50 0.40 ms, p99 12.3 ms, max 210 ms (since published; 123456 tags)
                  5 tags with a timestamp never published: not counted
stalls (> 1 s)    2, in 1 viewers
timestamp errors  0
server cpu        3.60 s, 2.40 CPU-s/GB delivered
server rss        idle 20.0 MiB, end 26.0 MiB (peak 27.0 MiB), 63.0 KiB per viewer
bench cpu         5.50 s
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	empty := &Report{URL: "http://h/a.flv", Viewers: 5, Launched: 2, Interrupted: true, MeasuredSeconds: 1.25, Lag: Lag{Reference: "first_viewer"}}
	if err := empty.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"viewers           2 of 5 started, ramp 0s, measured 1.2s (interrupted)", "first byte        -", "delivery lag      -"} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("no line %q in:\n%s", line, b.String())
		}
	}

	b.Reset()
	publishOnly := &Report{Publish: "rtmp://h/a/b", File: "f.flv", MeasuredSeconds: 30, Publisher: &PublisherStats{Tags: 10, Mbps: 2}}
	if err := publishOnly.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "published for  30s\n") || strings.Contains(b.String(), "viewers") {
		t.Errorf("publish only:\n%s", b.String())
	}
}

func TestReportJSON(t *testing.T) {
	rep := &Report{URL: "http://h/a.flv", Lag: Lag{Reference: "publish", P99: 1.5}, Server: &ServerStats{PID: 7, CPUSecondsPerGB: 1.1}}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	lag := m["delivery_lag_ms"].(map[string]any)
	server := m["server"].(map[string]any)
	if lag["p99"] != 1.5 || lag["reference"] != "publish" || server["cpu_seconds_per_gb"] != 1.1 || m["publisher"] != nil {
		t.Errorf("%s", data)
	}
}

func TestConfigCheck(t *testing.T) {
	ok := Config{URL: "http://h/a.flv", Viewers: 1, Duration: time.Second}
	if err := ok.check(); err != nil {
		t.Error(err)
	}
	for _, c := range []Config{
		{Duration: time.Second},
		{URL: "http://h/a.flv", Duration: time.Second},
		{URL: "http://h/a.flv", Viewers: 1},
		{URL: "http://h/a.flv", Viewers: 1, Duration: time.Second, Ramp: -1},
		{URL: "http://h/a.flv", Viewers: 1, Duration: time.Second, ViewersPerConn: -1},
		{URL: "http://h/a.flv", Viewers: 1, Duration: time.Second, File: "a.flv"},
	} {
		if err := c.check(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := Run(t.Context(), Config{URL: "ftp://h/a.flv", Viewers: 1, Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "url:") {
		t.Errorf("ftp URL: %v", err)
	}
	if _, err := Run(t.Context(), Config{URL: "http://h/a.flv", Viewers: 1, Duration: time.Second, PID: -1}); err == nil || !strings.Contains(err.Error(), "--pid -1") {
		t.Errorf("pid -1: %v", err)
	}
}
