package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

// These tests run the ingest as a user does, with real peers: ffmpeg and
// GStreamer publish over RTMP, ffmpeg and ffprobe play over HTTP.

const gstreamerPackages = "gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav"

type testServer struct {
	*server
	log    *testutil.SyncBuffer
	logger *slog.Logger
}

func startServer(t *testing.T, role Role, edit func(*config.Config)) *testServer {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RTMPListen, cfg.HTTPListen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := start(role, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	return &testServer{server: srv, log: logs, logger: logger}
}

func (s *testServer) rtmpURL(stream string) string {
	return "rtmp://" + s.rtmpLn.Addr().String() + "/live/" + stream
}

func (s *testServer) playURL(stream string) string {
	return "http://" + s.web.HTTPAddr().String() + "/live/" + stream + ".flv"
}

// publishFFmpeg publishes an H.264 + AAC test pattern in real time until the
// test ends or the returned process is killed.
func publishFFmpeg(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	return publishFFmpegGOP(t, 30, url)
}

// publishFFmpegGOP is publishFFmpeg with a keyframe every gop frames (30 a
// second), to one URL or, from one encoder, to several at once.
func publishFFmpegGOP(t *testing.T, gop int, urls ...string) *exec.Cmd {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", strconv.Itoa(gop), "-pix_fmt", "yuv420p",
		// Ten minutes: more than any test plays on the most loaded
		// machine; the test's cleanup ends it.
		"-c:a", "aac", "-t", "600"}
	if len(urls) == 1 {
		args = append(args, "-f", "flv", urls[0])
	} else {
		outputs := make([]string, len(urls))
		for i, u := range urls {
			outputs[i] = "[f=flv]" + u
		}
		args = append(args, "-map", "0:v", "-map", "1:a", "-f", "tee", strings.Join(outputs, "|"))
	}
	cmd := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), args...)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// waitStream waits until a stream can be played.
func waitStream(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for time.Now().Before(deadline) {
		resp, err := http.Head(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}

func TestFFmpegPublishesAndPlays(t *testing.T) {
	s := startServer(t, Ingest, nil)
	publishFFmpeg(t, s.rtmpURL("t?key=abc"))
	url := s.playURL("t")
	waitStream(t, url)

	if codecs := probeCodecs(t, url); fmt.Sprint(codecs) != "[h264 aac]" {
		t.Fatalf("ffprobe reports %v, want h264 and aac", codecs)
	}

	// framecrc prints one line per decoded frame; at level error, ffmpeg
	// prints any decoder error.
	cmd := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-v", "error", "-i", url, "-t", "5", "-map", "0:v:0", "-f", "framecrc", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg decode: %v\n%s", err, stderr.String())
	}
	frames := 0
	for line := range strings.Lines(stdout.String()) {
		if !strings.HasPrefix(line, "#") {
			frames++
		}
	}
	if frames < 100 {
		t.Fatalf("decoded %d video frames in 5 s, want at least 100", frames)
	}
	if stderr.Len() > 0 {
		t.Fatalf("decoder errors:\n%s", stderr.String())
	}

	if codecs := probeCodecs(t, url+"?only_audio=1"); fmt.Sprint(codecs) != "[aac]" {
		t.Fatalf("only_audio: ffprobe reports %v", codecs)
	}
	if codecs := probeCodecs(t, url+"?only_video=1"); fmt.Sprint(codecs) != "[h264]" {
		t.Fatalf("only_video: ffprobe reports %v", codecs)
	}
	checkInstantStart(t, url)
}

// checkInstantStart joins a running stream (most likely mid-GOP) and checks
// that the picture comes first and at once: FLV header, onMetaData, AVC and
// AAC sequence headers, then a video keyframe, within 100 ms.
func checkInstantStart(t *testing.T, url string) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := flv.NewReader(resp.Body)
	if _, err := r.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	want := []string{"onMetaData", "AVC sequence header", "AAC sequence header", "video keyframe"}
	for i, what := range want {
		tag, err := r.ReadTag()
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(tag); got != what {
			t.Fatalf("tag %d is %s, want %s", i, got, what)
		}
	}
	if elapsed := time.Since(start); elapsed > 100*time.Millisecond {
		t.Fatalf("keyframe after %v, want within 100 ms", elapsed)
	}
}

func describe(tag flv.Tag) string {
	switch tag.Type {
	case flv.TagScript:
		name, _, _ := flv.ParseScript(tag.Data)
		return name
	case flv.TagVideo:
		info, err := flv.ParseVideo(tag.Data)
		switch {
		case err != nil:
			return "broken video"
		case info.SequenceHeader:
			return "AVC sequence header"
		case info.Keyframe:
			return "video keyframe"
		}
		return "video frame"
	case flv.TagAudio:
		info, err := flv.ParseAudio(tag.Data)
		switch {
		case err != nil:
			return "broken audio"
		case info.SequenceHeader:
			return "AAC sequence header"
		}
		return "audio frame"
	}
	return fmt.Sprintf("tag type %d", tag.Type)
}

// probeCodecs lists the codecs ffprobe finds at url, in stream order.
func probeCodecs(t *testing.T, url string) []string {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error", "-show_entries", "stream=codec_name",
		"-of", "csv=p=0", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	return strings.Fields(string(out))
}

func TestGStreamerPublishes(t *testing.T) {
	s := startServer(t, Ingest, nil)
	gst := exec.Command(testutil.RequireTool(t, "gst-launch-1.0", gstreamerPackages), "-q",
		"videotestsrc", "is-live=true", "pattern=ball", "!", "video/x-raw,width=320,height=240,framerate=25/1",
		"!", "x264enc", "key-int-max=25", "tune=zerolatency", "speed-preset=ultrafast", "!", "h264parse",
		"!", "flvmux", "name=mux", "streamable=true", "!", "rtmp2sink", "location="+s.rtmpURL("gst"),
		"audiotestsrc", "is-live=true", "!", "audioconvert", "!", "avenc_aac", "!", "aacparse", "!", "mux.")
	var stderr testutil.SyncBuffer
	gst.Stdout, gst.Stderr = &stderr, &stderr
	if err := gst.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		gst.Process.Kill()
		gst.Wait()
	}()
	url := s.playURL("gst")
	deadline := time.Now().Add(15 * time.Second)
	for s.hub.Lookup("live", "gst") == nil {
		if time.Now().After(deadline) {
			t.Fatalf("GStreamer did not publish; its output:\n%s\nserver log:\n%s", stderr.String(), s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if codecs := probeCodecs(t, url); fmt.Sprint(codecs) != "[h264 aac]" {
		t.Fatalf("ffprobe reports %v, want h264 and aac", codecs)
	}
}

// viewer reads tags from a live URL in the background.
type viewer struct {
	mu    sync.Mutex
	tags  []flv.Tag
	at    []time.Time // when each tag was received
	err   error
	ended chan struct{}
}

func watch(t *testing.T, url string, header ...string) *viewer {
	t.Helper()
	return watchWith(t, http.DefaultClient, url, header...)
}

// watchWith is watch over client's protocol.
func watchWith(t *testing.T, client *http.Client, url string, header ...string) *viewer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	v := &viewer{ended: make(chan struct{})}
	t.Cleanup(func() {
		resp.Body.Close()
		<-v.ended
	})
	go func() {
		defer close(v.ended)
		r := flv.NewReader(resp.Body)
		_, err := r.ReadHeader()
		for err == nil {
			var tag flv.Tag
			if tag, err = r.ReadTag(); err == nil {
				v.mu.Lock()
				v.tags = append(v.tags, tag)
				v.at = append(v.at, time.Now())
				v.mu.Unlock()
			}
		}
		v.mu.Lock()
		v.err = err
		v.mu.Unlock()
	}()
	return v
}

func (v *viewer) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.tags)
}

func (v *viewer) waitTags(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for v.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("viewer has %d tags, waited for %d", v.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchedStream starts an ingest with the given grace period, an ffmpeg
// publisher of live/name, and a viewer that is receiving it.
func watchedStream(t *testing.T, name string, grace time.Duration) (*testServer, *exec.Cmd, *viewer) {
	t.Helper()
	s := startServer(t, Ingest, func(c *config.Config) { c.Publish.Grace = grace })
	pub := publishFFmpeg(t, s.rtmpURL(name))
	waitStream(t, s.playURL(name))
	v := watch(t, s.playURL(name))
	v.waitTags(t, 30)
	return s, pub, v
}

// kill ends a publisher the hard way: no FCUnpublish, no FIN handshake of RTMP.
func kill(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}

func TestPublisherKilledAndBackWithinGrace(t *testing.T) {
	// Longer than a new ffmpeg takes to start publishing on a loaded
	// machine: the test is about the reconnection, not the period's length.
	const grace = time.Minute
	s, first, v := watchedStream(t, "k", grace)
	kill(first)
	killedAt := v.count()
	publishFFmpeg(t, s.rtmpURL("k")) // back within the grace period
	v.waitTags(t, killedAt+100)
	select {
	case <-v.ended:
		t.Fatalf("viewer ended across the reconnect: %v", v.err)
	default:
	}

	v.mu.Lock()
	tags := append([]flv.Tag(nil), v.tags...)
	v.mu.Unlock()
	last := map[uint8]uint32{}
	newConfig := false
	for i, tag := range tags {
		if tag.Timestamp < last[tag.Type] {
			t.Fatalf("tag %d: %d ms after %d ms", i, tag.Timestamp, last[tag.Type])
		}
		last[tag.Type] = tag.Timestamp
		if i >= killedAt && tag.Type == flv.TagVideo && tag.Data[1] == 0 {
			newConfig = true
		}
	}
	if !newConfig {
		t.Fatal("no new sequence header after the publisher came back")
	}
}

func TestViewersEndAfterGraceWhenPublisherDies(t *testing.T) {
	const grace = time.Second
	_, pub, v := watchedStream(t, "d", grace)
	kill(pub)
	killed := time.Now()
	select {
	case <-v.ended:
	case <-time.After(grace + 10*time.Second):
		t.Fatal("viewer still connected long after the grace period")
	}
	if waited := time.Since(killed); waited < grace-100*time.Millisecond {
		t.Fatalf("viewer ended %v after the kill, before the %v grace period", waited, grace)
	}
	if v.err != io.EOF {
		t.Fatalf("viewer ended with %v, want a clean end of stream", v.err)
	}
}

// quickDrain is a config file that ends viewers soon after a shutdown.
func quickDrain(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "flvedge.yaml")
	if err := os.WriteFile(path, []byte("viewers:\n  drain: 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDemoCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Ingest, []string{"--config", quickDrain(t), "--demo", "--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var url string
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for url == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no demo URL printed; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		for line := range strings.Lines(stdout.String()) {
			if u, ok := strings.CutPrefix(line, "Demo stream: "); ok {
				url = strings.TrimSpace(u)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.HasSuffix(url, "/live/demo.flv") {
		t.Fatalf("demo URL %q", url)
	}
	// The demo serves HTTPS too, on a self-signed certificate.
	if secure := printedURLs(stdout.String())["Play securely"]; !strings.HasPrefix(secure, "https://") {
		t.Fatalf("no HTTPS URL printed:\n%s", stdout.String())
	}
	waitStream(t, url)
	v := watch(t, url)
	// The clip is 4 s long: play past 5 s crosses a loop. Waited for by
	// the timestamps received, not by a sleep a loaded machine outlasts.
	deadline = time.Now().Add(time.Minute)
	for {
		v.mu.Lock()
		var lastVideo uint32
		for _, tag := range v.tags {
			if tag.Type == flv.TagVideo {
				if tag.Timestamp < lastVideo {
					v.mu.Unlock()
					t.Fatalf("demo timestamps went back from %d to %d", lastVideo, tag.Timestamp)
				}
				lastVideo = tag.Timestamp
			}
		}
		v.mu.Unlock()
		if lastVideo >= 5000 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute the demo is at %d ms", lastVideo)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCheckAndPrintConfig(t *testing.T) {
	var out testutil.SyncBuffer
	if err := Run(context.Background(), Edge, []string{"--print-default-config"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "default.yaml")
	os.WriteFile(path, []byte(out.String()), 0o600)
	out = testutil.SyncBuffer{}
	if err := Run(context.Background(), Ingest, []string{"--check-config", "--config", path}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "config OK") {
		t.Fatalf("the printed default does not check: %v %s", err, out.String())
	}
	os.WriteFile(path, []byte("window:\n  bytes: 1MiB\n  sizes: 3\n"), 0o600)
	err := Run(context.Background(), Ingest, []string{"--check-config", "--config", path}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("a bad key: %v, want its line", err)
	}
}

func TestBadFlagsAndConfig(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--window-bytes", "lots"},
		{"--config", "/nonexistent.yaml"},
		{"extra"},
	} {
		err := Run(context.Background(), Ingest, args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
