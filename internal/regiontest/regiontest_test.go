//go:build e2e

package regiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/web"
)

// The topology as scripts/regiontest.sh builds it.
var (
	regions  = []string{"eu", "us"}
	edgeIP   = map[string]string{"eu": "10.77.0.31", "us": "10.77.0.32"}
	ingestIP = map[string]string{"ingest0": "10.77.0.10", "ingest1": "10.77.0.11"}
)

const (
	// benchViewers play in each region through cmd/bench, beside the one
	// viewer whose response is recorded and examined.
	benchViewers = 10
	// maxGap is the longest a track's timeline may stop: the shield gives
	// up on a silent origin after its 2 s stall timeout and goes on from
	// the other ingest at once; the timeline continues after the real gap.
	maxGap = 3 * time.Second
)

func TestRegionsRideOutACutIngestLink(t *testing.T) {
	// Bounds the whole test; each step is shorter, so that a stuck one
	// fails with its own message.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tp := start(ctx, t)

	var recorders, benches []*proc
	for _, region := range regions {
		recorders = append(recorders, tp.spawn(ctx, t, "viewer-"+region, "viewer-"+region,
			"curl", "--fail", "-sS", "-N", "-o", filepath.Join(tp.dir, "viewer-"+region+".flv"), playURL(region)))
	}
	playing := time.Now()
	for _, region := range regions {
		waitSize(ctx, t, filepath.Join(tp.dir, "viewer-"+region+".flv"), 64<<10)
	}
	for _, region := range regions {
		benches = append(benches, tp.spawn(ctx, t, "viewer-"+region, "bench-"+region,
			filepath.Join(tp.bin, "bench"), "--url", playURL(region), "--viewers", strconv.Itoa(benchViewers),
			"--ramp", "1s", "--duration", "10m", "--json", filepath.Join(tp.dir, "bench-"+region+".json")))
	}
	pause(ctx, t, 5*time.Second)

	// The primary's link is cut, then restored; then the backup's, so that
	// the second failover goes back to the primary through its restored
	// link. The encoders keep publishing on the ingest hosts throughout.
	for i, c := range []struct{ cut, other string }{{"ingest0", "ingest1"}, {"ingest1", "ingest0"}} {
		t.Logf("%.1fs: cutting %s's link", time.Since(playing).Seconds(), c.cut)
		tp.script(ctx, t, "cut", tp.run, c.cut)
		pause(ctx, t, 7*time.Second)
		shield := tp.scrape(ctx, t, "shield")
		failovers := value(t, shield, "flvedge_stream_upstream_failovers_total")
		if failovers < float64(i+1) {
			t.Errorf("with %s cut off, the shield counts %v failovers, want at least %d", c.cut, failovers, i+1)
		}
		info := tp.streamInfo(ctx, t, "shield")
		t.Logf("shield: flvedge_stream_upstream_failovers_total %v, %s from %s", failovers, info.UpstreamState, info.UpstreamOrigin)
		if want := "http://" + ingestIP[c.other] + ":8080/live/cam.flv"; info.UpstreamOrigin != want || info.UpstreamState != "streaming" {
			t.Errorf("with %s cut off, the shield is %s from %q, want streaming from %s", c.cut, info.UpstreamState, info.UpstreamOrigin, want)
		}
		t.Logf("%.1fs: restoring %s's link", time.Since(playing).Seconds(), c.cut)
		tp.script(ctx, t, "restore", tp.run, c.cut)
		pause(ctx, t, 4*time.Second)
	}

	// The regional edges rode out both failovers on the shield: it went
	// silent for less than their stall timeout, so they never went to the
	// ingests themselves, as the shield tier intends.
	for _, region := range regions {
		edge := tp.scrape(ctx, t, "edge-"+region)
		if n := value(t, edge, "flvedge_stream_upstream_failovers_total"); n != 0 {
			t.Errorf("edge-%s failed over %v times, want 0: the shield's failover should be shorter than the edge's stall timeout", region, n)
		}
		if n := value(t, edge, "flvedge_stream_upstream_state", "state", "streaming"); n != 1 {
			t.Errorf("edge-%s: upstream_state{state=streaming} is %v, want 1", region, n)
		}
		if n := value(t, edge, "flvedge_stream_viewers"); n != benchViewers+1 {
			t.Errorf("edge-%s has %v viewers, want %d", region, n, benchViewers+1)
		}
	}

	// Every viewer is still playing: none of the responses ended.
	wall := time.Since(playing)
	for _, p := range recorders {
		p.stop(t, syscall.SIGTERM)
	}
	for i, p := range benches {
		p.stop(t, syscall.SIGINT) // bench reports when interrupted
		checkBench(t, regions[i], filepath.Join(tp.dir, "bench-"+regions[i]+".json"))
	}
	for _, region := range regions {
		checkRecording(t, filepath.Join(tp.dir, "viewer-"+region+".flv"), wall)
	}
}

func playURL(region string) string { return "http://" + edgeIP[region] + ":8080/live/cam.flv" }

// topology is one run of scripts/regiontest.sh.
type topology struct {
	run        string // its name
	dir        string // configs, logs, recordings, reports
	bin        string // ingest, edge and bench, built for the test
	scriptPath string
}

// start builds the servers and brings the topology up; it is torn down
// when the test ends, whatever happened.
func start(ctx context.Context, t *testing.T) *topology {
	for tool, pkg := range map[string]string{"bash": "bash", "ip": "iproute2", "curl": "curl", "ffmpeg": "ffmpeg", "timeout": "coreutils"} {
		testutil.RequireTool(t, tool, pkg)
	}
	// go test puts its own go first in PATH.
	goTool := testutil.RequireTool(t, "go", "golang-go")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tag := make([]byte, 4)
	rand.Read(tag)
	dir := t.TempDir()
	tp := &topology{
		// Named after this process, which lives as long as the run: the
		// script removes what a run whose process is gone left behind.
		run:        fmt.Sprintf("frt%d-%s", os.Getpid(), hex.EncodeToString(tag)),
		dir:        dir,
		bin:        filepath.Join(dir, "bin"),
		scriptPath: filepath.Join(root, "scripts", "regiontest.sh"),
	}

	// Before the build, so that a machine that cannot run the test says
	// why at once.
	tp.script(ctx, t, "check", tp.run)
	build := exec.CommandContext(ctx, goTool, "build", "-o", tp.bin+string(filepath.Separator), "./cmd/ingest", "./cmd/edge", "./cmd/bench")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the servers: %v\n%s", err, out)
	}

	t.Cleanup(func() {
		// Not the test's context, which may have run out: the topology
		// goes in any case.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := tp.command(ctx, "down", tp.run).CombinedOutput(); err != nil {
			t.Errorf("tearing down %s: %v\n%s", tp.run, err, out)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			tp.dumpLogs(t)
		}
	})
	t.Logf("bringing up %s", tp.run)
	tp.script(ctx, t, "up", tp.run, tp.dir, tp.bin)
	return tp
}

func (tp *topology) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", append([]string{tp.scriptPath}, args...)...)
	// Every process of the run is gone by then, whatever the test does.
	cmd.Env = append(os.Environ(), "REGIONTEST_LIFETIME=240")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// script runs scripts/regiontest.sh; its failure ends the test, with the
// script's reason (such as why namespaces cannot be created).
func (tp *topology) script(ctx context.Context, t *testing.T, args ...string) {
	t.Helper()
	if out, err := tp.command(ctx, args...).CombinedOutput(); err != nil {
		t.Fatalf("scripts/regiontest.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// on makes a command that runs on a host of the topology, at the hosts'
// priority; signals sent to it are passed on to the command.
func (tp *topology) on(ctx context.Context, host string, args ...string) *exec.Cmd {
	return tp.command(ctx, append([]string{"exec", tp.run, host}, args...)...)
}

// get fetches a URL from inside a host.
func (tp *topology) get(ctx context.Context, t *testing.T, host, url string) []byte {
	t.Helper()
	out, err := tp.on(ctx, host, "curl", "-fsS", "--max-time", "5", url).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("GET %s on %s: %v", url, host, err)
	}
	return out
}

// scrape reads the metrics of a host's server from its admin listener.
func (tp *topology) scrape(ctx context.Context, t *testing.T, host string) map[string]*dto.MetricFamily {
	t.Helper()
	body := tp.get(ctx, t, host, "http://127.0.0.1:9090/metrics")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("metrics of %s: %v", host, err)
	}
	return families
}

// streamInfo reads live/cam's figures from a host's stats API.
func (tp *topology) streamInfo(ctx context.Context, t *testing.T, host string) web.StreamInfo {
	t.Helper()
	var info web.StreamInfo
	if err := json.Unmarshal(tp.get(ctx, t, host, "http://127.0.0.1:9090/api/streams/live/cam"), &info); err != nil {
		t.Fatalf("stats of live/cam on %s: %v", host, err)
	}
	return info
}

// value returns the value of live/cam's series of a metric that also has
// the label pairs given; 0 if there is none.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := families[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
	}
	want := append([]string{"app", "live", "stream", "cam"}, labels...)
series:
	for _, m := range f.GetMetric() {
		for i := 0; i < len(want); i += 2 {
			if !hasLabel(m, want[i], want[i+1]) {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

// waitSize waits until a viewer's recording has grown to n bytes.
func waitSize(ctx context.Context, t *testing.T, path string, n int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := os.Stat(path)
		if err == nil && st.Size() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: under %d bytes after 15 s (%v)", path, n, err)
		}
		pause(ctx, t, 100*time.Millisecond)
	}
}

func pause(ctx context.Context, t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatalf("out of time: %v", ctx.Err())
	case <-time.After(d):
	}
}

// dumpLogs shows the end of every log of the run, to tell why it failed.
func (tp *topology) dumpLogs(t *testing.T) {
	logs, _ := filepath.Glob(filepath.Join(tp.dir, "*.log"))
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("--- %s (last lines)\n%s", filepath.Base(path), strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}

// proc is a process the test runs on a host, watched for ending before
// its time: a viewer whose response ends has stopped playing.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // how it ended, set before done closes
}

// spawn starts a program on a host; its output goes to name.log in the
// run's folder. It is killed at the end of the test if still running.
func (tp *topology) spawn(ctx context.Context, t *testing.T, host, name string, args ...string) *proc {
	t.Helper()
	log, err := os.Create(filepath.Join(tp.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: tp.on(ctx, host, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		log.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop ends a process with sig, and fails the test if it had ended on
// its own already.
func (p *proc) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	select {
	case <-p.done:
		t.Errorf("%s ended before the test stopped it: %v", p.name, p.err)
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10 s of %v", p.name, sig)
	}
}

// checkBench reads a bench report: every viewer still received the stream
// at the end, and no timestamp went back.
func checkBench(t *testing.T, region, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("bench in %s wrote no report: %v", region, err)
		return
	}
	var r struct {
		MeasuredSeconds float64 `json:"measured_seconds"`
		Connections     struct {
			OK       int             `json:"ok"`
			Failed   int             `json:"failed"`
			Failures json.RawMessage `json:"failures"`
		} `json:"connections"`
		Stalls          int   `json:"stalls"`
		StalledViewers  int   `json:"stalled_viewers"`
		TimestampErrors int64 `json:"timestamp_errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Errorf("bench report of %s: %v", region, err)
		return
	}
	t.Logf("bench, %s: %d viewers ok over %.1f s, %d stalls (silences over 1 s) in %d viewers",
		region, r.Connections.OK, r.MeasuredSeconds, r.Stalls, r.StalledViewers)
	if r.Connections.OK != benchViewers || r.Connections.Failed != 0 {
		t.Errorf("bench, %s: %d of %d viewers still playing, %d failed: %s",
			region, r.Connections.OK, benchViewers, r.Connections.Failed, r.Connections.Failures)
	}
	if r.TimestampErrors != 0 {
		t.Errorf("bench, %s: %d timestamps went backwards", region, r.TimestampErrors)
	}
}

// checkRecording examines a viewer's response, played for wall: FLV all
// through, each track's frame timestamps never going back nor stopping for
// maxGap, media time for all the time played, and ffmpeg decoding all of
// it without an error.
func checkRecording(t *testing.T, path string, wall time.Duration) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := flv.NewReader(bytes.NewReader(data))
	if _, err := r.ReadHeader(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// The viewer was stopped in the middle of a tag: keep the whole ones.
	var whole bytes.Buffer
	w := flv.NewWriter(&whole)
	w.WriteHeader(true, true)
	type track struct {
		seen        bool
		first, last uint32
		gap         uint32 // the largest step
		gapAt       uint32
		stops       []string // steps over a second: the failovers, as the viewer saw them
	}
	var tracks [2]track // audio, video
	tags := 0
	for {
		tag, err := r.ReadTag()
		if err != nil {
			break
		}
		w.WriteTag(tag)
		tags++
		// Codec configuration is left out: it carries no media time. A
		// viewer that joins gets the stored one, stamped when it was
		// published (0 at the start of the stream), before the keyframe.
		var tr *track
		var config bool
		switch tag.Type {
		case flv.TagAudio:
			info, err := flv.ParseAudio(tag.Data)
			tr, config = &tracks[0], err == nil && info.SequenceHeader
		case flv.TagVideo:
			info, err := flv.ParseVideo(tag.Data)
			tr, config = &tracks[1], err == nil && info.SequenceHeader
		}
		if tr == nil || config {
			continue
		}
		switch {
		case !tr.seen:
			tr.seen, tr.first = true, tag.Timestamp
		case tag.Timestamp < tr.last:
			t.Errorf("%s: tag %d (type %d) goes back from %d to %d ms", path, tags, tag.Type, tr.last, tag.Timestamp)
		default:
			step := tag.Timestamp - tr.last
			if step > tr.gap {
				tr.gap, tr.gapAt = step, tr.last
			}
			if step > 1000 {
				tr.stops = append(tr.stops, fmt.Sprintf("%d ms at %d ms", step, tr.last))
			}
		}
		tr.last = tag.Timestamp
	}
	for i, name := range []string{"audio", "video"} {
		tr := tracks[i]
		if !tr.seen {
			t.Errorf("%s: no %s", path, name)
			continue
		}
		span := time.Duration(tr.last-tr.first) * time.Millisecond
		gap := time.Duration(tr.gap) * time.Millisecond
		stops := "never"
		if len(tr.stops) > 0 {
			stops = strings.Join(tr.stops, ", ")
		}
		t.Logf("%s: %s, %v of media in %v played; stopped for over a second: %s",
			filepath.Base(path), name, span.Round(time.Millisecond), wall.Round(time.Millisecond), stops)
		if gap >= maxGap {
			t.Errorf("%s: the %s stopped for %v at %d ms, want under %v", path, name, gap, tr.gapAt, maxGap)
		}
		if span < wall-maxGap {
			t.Errorf("%s: %v of %s in %v played: the viewer stopped receiving", path, span, name, wall)
		}
	}

	decoded := strings.TrimSuffix(path, ".flv") + "-whole.flv"
	if err := os.WriteFile(decoded, whole.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// At level error, ffmpeg prints any decoding error. The frames go out
	// in the input's millisecond time base (-enc_time_base -1): a failover
	// squeezes the new origin's burst 1 ms apart (see relay's sourceSwitch),
	// which the default 1/fps time base of the null output would round onto
	// one tick and report as non-monotonic, though every frame decodes.
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", decoded,
		"-enc_time_base", "-1", "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("ffmpeg decoding %s: %v\n%s", decoded, err, stderr.String())
	}
}
