//go:build e2e

package rtmp

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
)

// runPeer runs a publisher process to completion.
func runPeer(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func TestFFmpegPublish(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg", "ffmpeg")
	ts := startServer(t, nil)
	runPeer(t, ffmpeg, "-hide_banner", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-g", "25", "-c:a", "aac", "-t", "3",
		"-f", "flv", fmt.Sprintf("rtmp://%s/live/t?key=abc", ts.addr))

	sink := ts.rec.next(t)
	sink.waitClosed(t)
	req := sink.req
	if req.App != "live" || req.Stream != "t" {
		t.Errorf("app %q stream %q", req.App, req.Stream)
	}
	if want := (url.Values{"key": {"abc"}}); !reflect.DeepEqual(req.Query, want) {
		t.Errorf("query %v, want %v", req.Query, want)
	}
	if !strings.HasPrefix(req.TcURL, "rtmp://"+ts.addr+"/live") {
		t.Errorf("tcUrl %q", req.TcURL)
	}
	s := summarize(t, sink.snapshot())
	if s.keyframes < 3 || s.video < 70 || s.audio < 100 {
		t.Errorf("%d keyframes, %d video and %d audio tags for 3 s at 25 fps, GOP 25", s.keyframes, s.video, s.audio)
	}
	if line := ts.logs.waitFor(t, "rtmp publish stop"); !strings.Contains(line, "stream=t") {
		t.Errorf("stop line %q", line)
	}
	// ffmpeg checks the server's digests: getting this far proves them right.
	ts.logs.waitFor(t, "rtmp connect", "handshake=digest")
}

func TestGStreamerPublish(t *testing.T) {
	gst := testutil.RequireTool(t, "gst-launch-1.0", "gstreamer1.0-tools gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav")
	ts := startServer(t, nil)
	pipeline := fmt.Sprintf("videotestsrc num-buffers=75 ! video/x-raw,width=320,height=240,framerate=25/1 "+
		"! x264enc key-int-max=25 ! h264parse ! queue ! flvmux name=m streamable=true "+
		"! rtmp2sink location=rtmp://%s/live/g "+
		"audiotestsrc num-buffers=130 ! audio/x-raw,rate=44100 ! avenc_aac ! aacparse ! queue ! m.", ts.addr)
	runPeer(t, gst, append([]string{"-q"}, strings.Fields(pipeline)...)...)

	sink := ts.rec.next(t)
	sink.waitClosed(t)
	if sink.req.App != "live" || sink.req.Stream != "g" {
		t.Errorf("app %q stream %q", sink.req.App, sink.req.Stream)
	}
	s := summarize(t, sink.snapshot())
	if s.keyframes < 3 || s.video < 70 || s.audio < 100 {
		t.Errorf("%d keyframes, %d video and %d audio tags for 3 s at 25 fps, GOP 25", s.keyframes, s.video, s.audio)
	}
}

// TestFixtures: the committed clip is what ffmpeg makes from its arguments
// (FLVEDGE_UPDATE_TESTDATA=1 rewrites it).
func TestFixtures(t *testing.T) {
	fixtures.CheckTestdata(t, clipFixture)
}
