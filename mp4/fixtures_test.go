package mp4

import (
	"io"
	"os"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/vfile"
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, fixtures))
}

// The fixtures: six seconds of a 320x240 H.264 test pattern at 25 fps (a
// 96x64 pattern with a frame counter on black: every frame differs, and
// the files committed for the unit tests stay small) and a 440 Hz AAC
// tone, as ffmpeg writes them (moov at the end unless asked).
// ffmpeg gives every AAC track an edit list (its priming) and a 'roll'
// sample group, and B-frame video an edit list for the reordering delay.
// The AAC is encoded without perceptual noise substitution (-aac_pns 0):
// its noise comes from a generator whose state runs through the whole
// stream, so that no decoder started at a cut could give the whole file's
// samples exactly. Without it, a clip's audio decodes bit for bit like the
// whole file's from the first sample after one frame of pre-roll.
const (
	fixAV       = "av.mp4"        // keyframe every second, no B-frames
	fixAVRemux  = "av-remux.mp4"  // av.mp4 through ffmpeg -c copy: the input of fixAVFast
	fixAVFast   = "av-fast.mp4"   // av.mp4 through ffmpeg -c copy -movflags +faststart
	fixBFrames  = "bframes.mp4"   // two B-frames, a keyframe every 1.2 s
	fixAudio    = "audio.mp4"     // the AAC of bframes.mp4 alone
	fixEdit     = "edit.mp4"      // bframes.mp4 from 1.5 s (a cut in both edit lists), audio delayed (an empty edit)
	fixAVFrag   = "av-frag.mp4"   // av.mp4 fragmented
	fixAVShort  = "av-short.mp4"  // a second of av.mp4, for fuzz seeds
	fixAudioCut = "audio-cut.mp4" // audio.mp4 from 1.5 s: AAC with a cut in its edit list
)

var fixtureArgs = map[string][]string{
	fixAV: {"-f", "lavfi", "-i", "testsrc=size=96x64:rate=25,pad=320:240:112:96", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-aac_pns", "0", "-b:a", "16k", "-t", "6"},
	fixAVRemux: {"-i", "{av.mp4}", "-c", "copy"},
	fixAVFast:  {"-i", "{av.mp4}", "-c", "copy", "-movflags", "+faststart"},
	fixBFrames: {"-f", "lavfi", "-i", "testsrc=size=96x64:rate=25,pad=320:240:112:96", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-aac_pns", "0", "-b:a", "16k", "-t", "6"},
	fixAudio: {"-i", "{bframes.mp4}", "-c", "copy", "-vn"},
	fixEdit: {"-ss", "1.5", "-i", "{bframes.mp4}", "-itsoffset", "0.5", "-ss", "1.5", "-i", "{bframes.mp4}",
		"-map", "0:v", "-map", "1:a", "-c", "copy"},
	fixAVFrag:   {"-i", "{av.mp4}", "-c", "copy", "-movflags", "+frag_keyframe+empty_moov"},
	fixAVShort:  {"-i", "{av.mp4}", "-c", "copy", "-t", "1"},
	fixAudioCut: {"-ss", "1.5", "-i", "{audio.mp4}", "-c", "copy"},
}

// fixtures makes them; its Dir is set by TestMain.
var fixtures = &testutil.Fixtures{Args: fixtureArgs}

// fixture returns the path of a fixture, making it first if needed.
func fixture(t testing.TB, name string) string {
	t.Helper()
	return fixtures.Path(t, name)
}

// parseFixture parses a fixture.
func parseFixture(t testing.TB, name string) (*File, *os.File) {
	t.Helper()
	src, err := os.Open(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	st, err := src.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(src, st.Size(), nil)
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	return f, src
}

// readLayout returns the whole virtual file of a layout.
func readLayout(t testing.TB, l *vfile.Layout, src io.ReaderAt) []byte {
	t.Helper()
	b, err := io.ReadAll(vfile.NewReader(l, src))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != l.Size() {
		t.Fatalf("read %d bytes of a layout of %d", len(b), l.Size())
	}
	return b
}
