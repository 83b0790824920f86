//go:build e2e

package vod

import (
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
)

// committed are the fixtures the unit tests read from testdata/.
var committed = []string{fixAV, fixAVIndex, fixAudio, fixVideo}

// committedMP4 are the MP4 fixtures the unit tests read from testdata/.
var committedMP4 = []string{mp4End, mp4Remux, mp4Fast, mp4Frag}

// TestFixtures: the committed fixtures are what ffmpeg makes from their
// arguments (FLVEDGE_UPDATE_TESTDATA=1 rewrites them).
func TestFixtures(t *testing.T) {
	fixtures.CheckTestdata(t, committed...)
	mp4Fixtures.CheckTestdata(t, committedMP4...)
}

// decodeCheck has ffmpeg decode an FLV body (whose tags are parsed in
// tags) completely, failing the test on any error it reports, and ffprobe
// check that its first decoded video frame is a keyframe.
func decodeCheck(t *testing.T, body []byte, _ []tagAt, video bool) {
	t.Helper()
	ffmpegDecodes(t, body)
	if video {
		if key, _ := probeFirstVideoFrame(t, body); !key {
			t.Fatal("ffprobe: the first video frame is not a keyframe")
		}
	}
}

// ffmpegDecodes has ffmpeg decode an FLV body completely and fails the
// test on any error it reports.
func ffmpegDecodes(t *testing.T, body []byte) {
	t.Helper()
	cmd := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-hide_banner", "-nostdin", "-v", "error",
		"-f", "flv", "-i", "pipe:0", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decoding %d bytes: %v\n%s", len(body), err, out)
	}
}

// probeFirstVideoFrame has ffprobe report whether the first decoded video
// frame is a keyframe, and its presentation time in seconds.
func probeFirstVideoFrame(t *testing.T, body []byte) (key bool, pts string) {
	t.Helper()
	cmd := exec.Command(testutil.RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error", "-f", "flv", "-i", "pipe:0",
		"-select_streams", "v", "-show_entries", "frame=key_frame,pts_time", "-read_intervals", "%+#1", "-of", "csv=p=0")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	k, p, _ := strings.Cut(line, ",")
	return k == "1", p
}

// checkMP4Clip checks a served MP4 clip with ffprobe, which must read the
// duration the clip was asked for, and ffmpeg, which must decode it
// without an error.
func checkMP4Clip(t *testing.T, body []byte, duration float64) {
	t.Helper()
	if d := probeMP4Duration(t, body); math.Abs(d-duration) > 0.04 {
		t.Errorf("duration %.3f s, want %.3f", d, duration)
	}
	decodeMP4(t, body)
}

// probeMP4Duration returns the duration ffprobe reads in an MP4 body.
func probeMP4Duration(t *testing.T, body []byte) float64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe.mp4")
	writeFile(t, path, body)
	out, err := exec.Command(testutil.RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error", "-show_format", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var p struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q", p.Format.Duration)
	}
	return d
}

// decodeMP4 has ffmpeg decode an MP4 body completely and fails the test on
// anything it reports. MP4 needs a seekable input: a file, not a pipe.
func decodeMP4(t *testing.T, body []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "decode.mp4")
	writeFile(t, path, body)
	out, err := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-hide_banner", "-nostdin", "-v", "error",
		"-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decoding %d bytes: %v\n%s", len(body), err, out)
	}
}
