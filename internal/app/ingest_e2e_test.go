//go:build e2e

package app

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

const gstreamerPackages = "gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav"

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
