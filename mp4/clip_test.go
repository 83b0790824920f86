//go:build e2e

package mp4

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
)

// frameTime is one video frame at 25 fps: the tolerance of every time the
// clip tests check.
const frameTime = 0.04

// keyframeTimes returns the presentation times of a fixture's video
// keyframes, as ffprobe reads them.
func keyframeTimes(t testing.TB, path string) []float64 {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error", "-select_streams", "v",
		"-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var kf []float64
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		pts, flags, _ := strings.Cut(line, ",")
		if strings.Contains(flags, "K") && !strings.Contains(flags, "D") {
			if v, err := strconv.ParseFloat(pts, 64); err == nil && v >= 0 {
				kf = append(kf, v)
			}
		}
	}
	return kf
}

type interval struct {
	name       string
	start, end float64 // end < 0: to the end
}

// intervals returns the clips the tests cut from a movie of dur seconds
// with video keyframes at kf (none for audio only).
func intervals(kf []float64, dur float64) []interval {
	if len(kf) < 4 {
		kf = []float64{0, 1, 2, 3}
	}
	return []interval{
		{"whole", 0, -1},
		{"keyframe to keyframe", kf[1], kf[3]},
		{"between keyframes", kf[1] + 0.37, kf[3] - 0.21},
		{"from the start", 0, kf[2] + 0.5},
		{"between to the end", kf[2] + 0.5, -1},
		{"last frames", dur - 0.3, -1},
		{"past the end", dur - 0.3, dur + 5},
	}
}

func seconds2dur(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

func TestClip(t *testing.T) {
	for _, name := range []string{fixAV, fixAVFast, fixBFrames, fixAudio, fixEdit, fixAudioCut} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, src := parseFixture(t, name)
			full := decodeFixture(t, name)
			dur := float64(f.Duration) / float64(f.Timescale)
			for _, iv := range intervals(keyframeTimes(t, src.Name()), dur) {
				t.Run(iv.name, func(t *testing.T) {
					checkClip(t, f, src, full, iv.start, iv.end)
				})
			}
		})
	}
}

// checkClip cuts [start, end) from a fixture and checks the clip against
// the whole file: ffprobe reads it and ffmpeg decodes it without error,
// every frame of it is a frame of the whole file (framemd5) at the same
// time less start (within a frame), the first at start, the last at end,
// and the duration is end-start.
func checkClip(t *testing.T, f *File, src *os.File, full decoded, start, end float64) {
	t.Helper()
	l, err := f.Clip(seconds2dur(start), seconds2dur(max(end, 0)))
	if err != nil {
		t.Fatalf("Clip(%v, %v): %v", start, end, err)
	}
	body := readLayout(t, l, src)
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	clip, err := Parse(bytes.NewReader(body), int64(len(body)), nil)
	if err != nil {
		t.Fatalf("parsing the clip: %v", err)
	}
	if clip.NeedsFaststart() {
		t.Error("the clip's moov follows its mdat")
	}

	srcEnd := float64(f.Duration) / float64(f.Timescale)
	if end < 0 || end > srcEnd {
		end = srcEnd
	}
	p := ffprobe(t, path)
	if d := seconds(t, p.Format.Duration); math.Abs(d-(end-start)) > frameTime {
		t.Errorf("clip duration %.3f s, want %.3f", d, end-start)
	}
	got := decode(t, path)
	for typ, frames := range full {
		cf := got[typ]
		srcFirst, srcLast := frames[0].pts, frames[len(frames)-1].pts+frames[len(frames)-1].dur
		if srcLast <= start+frameTime {
			// The track ends before the clip starts: it is left out.
			if len(cf) > 0 {
				t.Errorf("%d %s frames in a clip after the end of the track", len(cf), typ)
			}
			continue
		}
		if len(cf) == 0 {
			t.Errorf("no %s frame in the clip", typ)
			continue
		}
		// The first decoded audio frame is cut at start (the edit list
		// hides the rest of the AAC frame): it is no frame of the whole.
		first := 0
		if typ == "audio" {
			first = 1
		}
		matched := -1
		for i := first; i < len(cf); i++ {
			want := cf[i].pts + start
			k := matched + 1
			if matched < 0 {
				// The first: the frame of the same hash within a frame
				// of the time.
				for k = 0; k < len(frames); k++ {
					if frames[k].hash == cf[i].hash && math.Abs(frames[k].pts-want) <= frameTime+1e-6 {
						break
					}
				}
			}
			if k >= len(frames) || frames[k].hash != cf[i].hash || math.Abs(frames[k].pts-want) > frameTime+1e-6 {
				t.Fatalf("%s frame %d of the clip (at %.3f s, %s) is not frame %d of the whole (%s) at %.3f s",
					typ, i, cf[i].pts, cf[i].hash, k, frameAt(frames, k), want)
			}
			matched = k
		}
		// First and last presented times against the whole file's.
		wantFirst := max(srcFirst, start) - start
		if math.Abs(cf[0].pts-wantFirst) > frameTime+1e-6 {
			t.Errorf("first %s frame at %.3f s, want %.3f", typ, cf[0].pts, wantFirst)
		}
		last := cf[len(cf)-1].pts + cf[len(cf)-1].dur
		if wantLast := min(srcLast, end) - start; math.Abs(last-wantLast) > frameTime+1e-6 {
			t.Errorf("last %s frame ends at %.3f s, want %.3f", typ, last, wantLast)
		}
	}
}

func frameAt(frames []frame, k int) string {
	if k < 0 || k >= len(frames) {
		return "none"
	}
	return fmt.Sprintf("%s at %.3f s", frames[k].hash, frames[k].pts)
}
