//go:build e2e

package app_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/app"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/rtmp"
)

// The RTMP client (package rtmp) publishes to the whole ingest as ffmpeg
// would, and ffprobe finds the codecs on the ingest's HTTP-FLV URL. (The
// client and server alone: rtmp's TestClientPublishesAnEncodedClip.)
func TestClientPublishesToIngest(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg", "ffmpeg")
	ffprobe := testutil.RequireTool(t, "ffprobe", "ffmpeg")
	clip := filepath.Join(t.TempDir(), "clip.flv")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-f", "flv", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	tags := testutil.ReadFLVFile(t, clip)

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	ingestDone := make(chan error, 1)
	// No admin listener, whose fixed port another server may hold; no
	// grace, so that the stream ends with the publish and shutting down
	// has no viewer to wait for.
	args := []string{"--rtmp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--admin-listen", "", "--grace", "0s"}
	go func() {
		ingestDone <- app.Run(ctx, app.Ingest, args, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-ingestDone; err != nil {
			t.Errorf("ingest: %v", err)
		}
		if t.Failed() {
			t.Logf("ingest log:\n%s", stderr.String())
		}
	}()
	rtmpAddr := waitForLine(t, &stdout, regexp.MustCompile(`rtmp://(\S+)/live/STREAM`))
	httpAddr := waitForLine(t, &stdout, regexp.MustCompile(`Play at: +http://(\S+)/live/STREAM\.flv`))

	dialCtx, dialCancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := rtmp.Dial(dialCtx, "rtmp://"+rtmpAddr+"/live/cam")
	dialCancel()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	published := make(chan error, 1)
	go func() { published <- publishLoop(c, tags, stop) }()

	probeCtx, probeCancel := context.WithTimeout(ctx, 60*time.Second)
	defer probeCancel()
	out, err = exec.CommandContext(probeCtx, ffprobe, "-v", "error", "-show_entries", "stream=codec_name,width,height",
		"-of", "json", "http://"+httpAddr+"/live/cam.flv").Output()
	close(stop)
	if err := <-published; err != nil {
		t.Errorf("publish: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var probe struct {
		Streams []struct {
			CodecName     string `json:"codec_name"`
			Width, Height int
		}
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	codecs := map[string]bool{}
	for _, s := range probe.Streams {
		codecs[s.CodecName] = true
		if s.CodecName == "h264" && (s.Width != 320 || s.Height != 240) {
			t.Errorf("video %dx%d, want 320x240", s.Width, s.Height)
		}
	}
	if !codecs["h264"] || !codecs["aac"] || len(probe.Streams) != 2 {
		t.Errorf("ffprobe found %s, want one h264 and one aac stream", out)
	}
}

// publishLoop sends the clip at its real-time rate, again and again with
// rising timestamps, until stop closes.
func publishLoop(c *rtmp.Client, tags []flv.Tag, stop <-chan struct{}) error {
	start := time.Now()
	loopLength := tags[len(tags)-1].Timestamp + 40
	for offset := uint32(0); ; offset += loopLength {
		for _, tag := range tags {
			tag.Timestamp += offset
			select {
			case <-stop:
				return nil
			case <-time.After(time.Until(start.Add(time.Duration(tag.Timestamp) * time.Millisecond))):
			}
			if err := c.WriteTag(tag); err != nil {
				return err
			}
		}
	}
}

// waitForLine waits for output matching re and returns its first group.
func waitForLine(t *testing.T, out *testutil.SyncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line matching %s in:\n%s", re, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
