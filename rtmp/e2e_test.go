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

	"github.com/flvedge/flvedge/flv"
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

// mediaSummary checks what every real publisher must deliver.
type mediaSummary struct {
	metadata, avcHeader, aacHeader bool
	keyframes, video, audio        int
	span                           uint32 // last video timestamp less the first, in ms
}

func summarize(t *testing.T, tags []flv.Tag) mediaSummary {
	t.Helper()
	var s mediaSummary
	last := map[uint8]uint32{}
	var firstVideo *uint32
	for i, tag := range tags {
		if len(tag.Data) == 0 {
			t.Fatalf("tag %d (type %d) is empty", i, tag.Type)
		}
		if prev, ok := last[tag.Type]; ok && tag.Timestamp < prev {
			t.Errorf("tag %d type %d: timestamp %d after %d", i, tag.Type, tag.Timestamp, prev)
		}
		last[tag.Type] = tag.Timestamp
		switch tag.Type {
		case flv.TagScript:
			name, vals, err := flv.ParseScript(tag.Data)
			if err != nil {
				t.Errorf("script tag %d: %v", i, err)
			}
			if strings.HasPrefix(string(tag.Data), "\x02\x00\x0d@setDataFrame") {
				t.Error("script tag still starts with @setDataFrame")
			}
			if name == "onMetaData" && len(vals) > 0 {
				s.metadata = true
			}
		case flv.TagVideo:
			s.video++
			if firstVideo == nil {
				firstVideo = &tag.Timestamp
			}
			s.span = tag.Timestamp - *firstVideo
			if len(tag.Data) >= 2 && tag.Data[0] == 0x17 && tag.Data[1] == 0 {
				s.avcHeader = true
			}
			if len(tag.Data) >= 2 && tag.Data[0] == 0x17 && tag.Data[1] == 1 {
				s.keyframes++
			}
		case flv.TagAudio:
			s.audio++
			if len(tag.Data) >= 2 && tag.Data[0] == 0xaf && tag.Data[1] == 0 {
				s.aacHeader = true
			}
		}
	}
	if !s.metadata || !s.avcHeader || !s.aacHeader {
		t.Errorf("metadata %v, AVC sequence header %v, AAC sequence header %v", s.metadata, s.avcHeader, s.aacHeader)
	}
	if s.span < 2500 {
		t.Errorf("video timestamps span %d ms, want about 3 s", s.span)
	}
	return s
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
