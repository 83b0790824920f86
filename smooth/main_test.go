package smooth

import (
	"log/slog"
	"os"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(testutil.Main(m, fixtures))
}

// The fixtures: two renditions of the same eight seconds (a 320x240 and a
// 192x144 H.264 picture at 25 fps, main profile with B-frames, a keyframe
// every second; a 440 Hz AAC-LC tone), as an encoder ladder writes them,
// and six seconds of the first alone. The picture is a small test pattern
// on black (96x64 and 64x48), the bitrates low (60 and 25 kb/s of video,
// 16 kb/s of AAC), so that the files committed for the unit tests stay
// small (about 140 KB together).
const (
	ssHigh   = "ss-high.mp4"
	ssLow    = "ss-low.mp4"
	ssSingle = "ss-single.mp4"
)

// ladder is a rendition: a test pattern of size pattern placed in a frame
// by ffmpeg's pad filter (frame is its width:height:x:y), at video bitrate
// rate, for seconds.
func ladder(pattern, frame, rate, seconds string) []string {
	return []string{"-f", "lavfi", "-i", "testsrc=size=" + pattern + ":rate=25,pad=" + frame, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "2", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-b:v", rate, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k", "-t", seconds}
}

// fixtures makes them; its Dir is set by TestMain.
var fixtures = &testutil.Fixtures{Args: map[string][]string{
	ssHigh:   ladder("96x64", "320:240:112:88", "60k", "8"),
	ssLow:    ladder("64x48", "192:144:64:48", "25k", "8"),
	ssSingle: ladder("96x64", "320:240:112:88", "60k", "6"),
}}
