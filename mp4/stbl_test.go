//go:build e2e

package mp4

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
)

// packet is what ffprobe reports of a packet.
type packet struct {
	stream        int
	pts, dts, pos int64
	size          uint32
	key           bool
}

func ffprobePackets(t *testing.T, path string) []packet {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error",
		"-show_entries", "packet=stream_index,pts,dts,pos,size,flags", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var ps []packet
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue // after side data
		}
		f := strings.Split(line, ",")
		if len(f) < 6 {
			t.Fatalf("ffprobe line %q", line)
		}
		num := func(s string) int64 {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("ffprobe line %q: %v", line, err)
			}
			return v
		}
		ps = append(ps, packet{stream: int(num(f[0])), pts: num(f[1]), dts: num(f[2]), size: uint32(num(f[3])), pos: num(f[4]), key: strings.Contains(f[5], "K")})
	}
	return ps
}

// TestSampleTable compares the sample table view of every fixture with
// ffprobe's packets: the same offsets, sizes and keyframes, and times that
// differ by one constant per track (ffmpeg shifts them by the edit list).
// Random access (Sample) and the walk (Samples) must agree.
func TestSampleTable(t *testing.T) {
	for _, name := range []string{fixAV, fixBFrames, fixAudio, fixEdit} {
		t.Run(name, func(t *testing.T) {
			f, src := parseFixture(t, name)
			packets := ffprobePackets(t, src.Name())
			for ti, tr := range f.Tracks {
				var want []packet
				for _, p := range packets {
					if p.stream == ti {
						want = append(want, p)
					}
				}
				slices.SortFunc(want, func(a, b packet) int { return int(a.dts - b.dts) })
				st := tr.Samples
				if int(st.Len()) != len(want) {
					t.Fatalf("track %d: %d samples, ffprobe has %d packets", tr.ID, st.Len(), len(want))
				}
				var shift int64
				for i, s := range st.Samples(0, st.Len()) {
					p := want[i]
					if i == 0 {
						shift = int64(s.Time) - p.dts
					}
					if s.Offset != p.pos || s.Size != p.size || s.Keyframe != p.key ||
						int64(s.Time)-p.dts != shift || int64(s.Time)+int64(s.CompositionOffset)-p.pts != shift {
						t.Fatalf("track %d sample %d: %+v, ffprobe %+v (shift %d)", tr.ID, i, s, p, shift)
					}
					if r, ok := st.Sample(i); !ok || r != s {
						t.Fatalf("track %d: Sample(%d) = %+v, the walk has %+v", tr.ID, i, r, s)
					}
					if i > 0 {
						prev, _ := st.Sample(i - 1)
						if prev.Time+uint64(prev.Duration) != s.Time {
							t.Fatalf("track %d sample %d: duration of the one before %d, times %d and %d", tr.ID, i, prev.Duration, prev.Time, s.Time)
						}
					}
				}
				if _, ok := st.Sample(st.Len()); ok {
					t.Errorf("track %d: Sample(Len()) exists", tr.ID)
				}
			}
		})
	}
}
