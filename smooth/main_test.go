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
// 192x144 H.264 test pattern at 25 fps, main profile with B-frames, a
// keyframe every second; a 440 Hz AAC-LC tone), as an encoder ladder
// writes them, and six seconds of the first alone.
const (
	ssHigh   = "ss-high.mp4"
	ssLow    = "ss-low.mp4"
	ssSingle = "ss-single.mp4"
)

func ladder(size, rate, seconds string) []string {
	return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "2", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-b:v", rate, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-t", seconds}
}

// fixtures makes them; its Dir is set by TestMain.
var fixtures = &testutil.Fixtures{Args: map[string][]string{
	ssHigh:   ladder("320x240", "500k", "8"),
	ssLow:    ladder("192x144", "150k", "8"),
	ssSingle: ladder("320x240", "500k", "6"),
}}
