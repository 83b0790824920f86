package load

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/cmd/bench/internal/baseline"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/rtmp"
)

// startBaseline runs the baseline server on loopback ports until the test
// ends and returns its RTMP and HTTP addresses.
func startBaseline(t *testing.T) (rtmpAddr, httpAddr string) {
	t.Helper()
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &baseline.Server{WriteTimeout: 10 * time.Second}
	ingest := &rtmp.Server{Handler: srv, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{}, 2)
	go func() { ingest.Serve(rln); done <- struct{}{} }()
	go func() { srv.Serve(hln); done <- struct{}{} }()
	t.Cleanup(func() {
		ingest.Close()
		srv.Close()
		<-done
		<-done
	})
	return rln.Addr().String(), hln.Addr().String()
}

func TestRunPublishAndView(t *testing.T) {
	t.Parallel()
	rtmpAddr, httpAddr := startBaseline(t)
	var progress testutil.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{
		Publish: "rtmp://" + rtmpAddr + "/live/e2e",
		File:    writeTestClip(t, 2000),
		URL:     "http://" + httpAddr + "/live/e2e.flv",
		Viewers: 5,
		// The same URL as the reference: two more viewers, their lag apart.
		RefURL:     "http://" + httpAddr + "/live/e2e.flv",
		RefViewers: 2,
		Ramp:       500 * time.Millisecond,
		Duration:   2 * time.Second,
		PID:        os.Getpid(), // the baseline runs in this process
		Progress:   &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Connections
	if c.OK != 7 || c.Failed != 0 || rep.Launched != 7 {
		t.Errorf("%d ok, %d failed of %d: %v", c.OK, c.Failed, rep.Launched, c.Failures)
	}
	if d := rep.Delivered; d.TotalMbps <= 0 || d.PerViewerMinMbps <= 0 || d.Bytes <= 0 {
		t.Errorf("delivered %+v", d)
	}
	if rep.TTFB.Count != 7 || rep.TTFK.Count != 7 || rep.TTFK.P50 < rep.TTFB.P50 {
		t.Errorf("first byte %+v, first keyframe %+v", rep.TTFB, rep.TTFK)
	}
	if l := rep.Lag; l.Reference != "publish" || l.Samples == 0 || l.Unmatched != 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("lag %+v", l)
	}
	if l := rep.RefLag; l == nil || l.Reference != "publish" || l.Samples == 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("reference lag %+v", l)
	}
	if rep.TimestampErrors != 0 {
		t.Errorf("%d timestamp errors", rep.TimestampErrors)
	}
	if s := rep.Server; s == nil || s.Error != "" || s.RSSBytes <= 0 || s.IdleRSSBytes <= 0 || s.CPUSeconds < 0 {
		t.Errorf("server %+v", s)
	}
	if p := rep.Publisher; p == nil || p.Tags == 0 || p.Mbps <= 0 {
		t.Errorf("publisher %+v", p)
	}
	if rep.MeasuredSeconds < 2 || rep.Interrupted {
		t.Errorf("measured %.1f s, interrupted %v", rep.MeasuredSeconds, rep.Interrupted)
	}
	if !strings.Contains(progress.String(), "viewers 7/7 up, 0 failed") {
		t.Errorf("progress:\n%s", progress.String())
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
}

// One run only publishes, another only views: lag is then measured
// against the first viewer to receive each tag, and the viewers' probe
// waits for the stream to appear.
func TestRunViewOnlyAndPublishOnly(t *testing.T) {
	t.Parallel()
	rtmpAddr, httpAddr := startBaseline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		rep *Report
		err error
	}
	published := make(chan result, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // the viewers' probe comes first, and retries
		rep, err := Run(ctx, Config{Publish: "rtmp://" + rtmpAddr + "/live/split", File: writeTestClip(t, 1000), Duration: 3500 * time.Millisecond})
		published <- result{rep, err}
	}()
	rep, err := Run(ctx, Config{URL: "http://" + httpAddr + "/live/split.flv", Viewers: 3, Duration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connections.OK != 3 || rep.Lag.Reference != "first_viewer" || rep.Lag.Samples == 0 || rep.Publisher != nil || rep.Server != nil {
		t.Errorf("viewers: %+v", rep)
	}
	pub := <-published
	if pub.err != nil {
		t.Fatal(pub.err)
	}
	if p := pub.rep.Publisher; p == nil || p.Tags == 0 || pub.rep.MeasuredSeconds < 3.5 {
		t.Errorf("publisher: %+v %+v", pub.rep, p)
	}
}

func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	rtmpAddr, httpAddr := startBaseline(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	rep, err := Run(ctx, Config{
		Publish: "rtmp://" + rtmpAddr + "/live/int", File: writeTestClip(t, 1000),
		URL: "http://" + httpAddr + "/live/int.flv", Viewers: 2, Duration: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Connections.OK != 2 || rep.MeasuredSeconds > 60 {
		t.Errorf("%+v", rep)
	}
}
