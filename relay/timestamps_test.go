package relay

import (
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// fakeClock advances only when told, so that the "real gap" is exact.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

const (
	audio = flv.AudioTrack
	video = flv.VideoTrack
)

func TestTimelinePassesNormalTimestampsThrough(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	// Interleaved tracks step back against each other; that is normal.
	for _, step := range []struct {
		track flv.Track
		in    uint32
	}{{video, 1000}, {audio, 990}, {video, 1040}, {audio, 1013}, {video, 1080}, {audio, 1036}} {
		clock.advance(20 * time.Millisecond)
		if out, _ := tl.next(step.track, step.in); out != step.in {
			t.Fatalf("track %d: %d became %d", step.track, step.in, out)
		}
	}
}

func TestTimelineSmoothsBackwardStep(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	tl.next(video, 50_000)
	clock.advance(40 * time.Millisecond)
	out, _ := tl.next(video, 1_000) // the encoder reset its clock
	if out != 50_040 {
		t.Fatalf("after a step back got %d, want 50040 (last + real gap)", out)
	}
	clock.advance(40 * time.Millisecond)
	if out, _ := tl.next(video, 1_040); out != 50_080 {
		t.Fatalf("next frame got %d, want 50080", out)
	}
}

func TestTimelineSmoothsForwardJump(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	tl.next(video, 1000)
	clock.advance(40 * time.Millisecond)
	if out, _ := tl.next(video, 1000+3_600_000); out != 1040 {
		t.Fatalf("an hour's jump became %d, want 1040", out)
	}
	// A jump within the limit is a real gap in the source and passes.
	clock.advance(2 * time.Second)
	if out, _ := tl.next(video, 1000+3_600_000+2000); out != 3040 {
		t.Fatalf("a 2 s step became %d, want 3040", out)
	}
}

func TestTimelineUnwrapsAt32Bits(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	first := uint32(1<<32 - 100)
	tl.next(video, first)
	clock.advance(40 * time.Millisecond)
	out, _ := tl.next(video, 60) // 160 ms later, past the wrap
	if out != first+160 {
		t.Fatalf("wrap gave %d, want %d", out, first+160)
	}
}

func TestTimelineRestartContinuesAfterRealGap(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	tl.next(video, 0)
	tl.next(video, 2000)
	clock.advance(1500 * time.Millisecond) // publisher away for 1.5 s
	tl.restart()
	// The new publisher starts its clock at 1800 ms: not a backward step by
	// the rules, but a new clock all the same.
	if out, _ := tl.next(video, 1800); out != 3500 {
		t.Fatalf("after restart got %d, want 3500", out)
	}
	if out, _ := tl.next(audio, 1790); out != 3490 {
		t.Fatalf("other track after restart got %d, want 3490", out)
	}
}

func TestTimelineClampsJitter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	tl.next(video, 1000)
	if out, _ := tl.next(video, 998); out != 1000 {
		t.Fatalf("2 ms step back gave %d, want 1000 held", out)
	}
	if out, _ := tl.next(video, 1040); out != 1040 {
		t.Fatalf("then %d, want 1040", out)
	}
}

// TestTimelineSwitchStepIsTheRealGap switches to a new source whose first
// tags are a burst: its window from a keyframe 2 s old, all at once. The
// viewers' timeline must step by the real gap, whatever the new clock.
func TestTimelineSwitchStepIsTheRealGap(t *testing.T) {
	for _, tc := range []struct {
		name string
		diff int64 // the new source's clock minus the old one's
		tol  int64 // how far the live tag may land from anchor + real time
	}{
		{"same encoder clock", 0, 0},
		{"synchronised encoder a frame behind", -40, sameClockTolerance},
		{"encoder started a second later", -1000, 0},
		{"encoder started a second earlier", 1000, 0},
		{"unrelated clock", -9_000, 0},
		{"unrelated clock far ahead", 3_600_000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(0, 0)}
			tl := newTimeline(3*time.Second, clock.now)
			var last int64
			for ts := int64(10_000); ts <= 12_000; ts += 40 {
				clock.advance(40 * time.Millisecond)
				out, _ := tl.next(video, uint32(ts))
				tl.next(audio, uint32(ts))
				last = int64(out)
			}
			anchor := clock.t
			const gap = 250
			clock.advance(gap * time.Millisecond)
			tl.restart()
			// The source's live edge is now 12_000+gap on the old clock.
			live := 12_000 + gap + tc.diff
			lastOut := [2]int64{-1, -1}
			check := func(track flv.Track, in int64) (int64, bool) {
				t.Helper()
				o, keep := tl.next(track, uint32(in))
				out := int64(o)
				if !keep {
					if track != audio {
						t.Fatalf("video tag %d dropped", in)
					}
					return 0, false
				}
				if out <= lastOut[track] && (track == video || out < lastOut[track]) {
					t.Fatalf("track %d: %d after %d", track, out, lastOut[track])
				}
				if out <= last-backwardTolerance {
					t.Fatalf("track %d went back to %d after %d before the switch", track, out, last)
				}
				lastOut[track] = out
				return out, true
			}
			// The burst: 2 s of tags at once.
			for in := live - 2000; in <= live; in += 40 {
				check(video, in)
				check(audio, in)
			}
			// Then live, in real time.
			for in := live + 40; in <= live+2000; in += 40 {
				clock.advance(40 * time.Millisecond)
				out, _ := check(video, in)
				check(audio, in)
				want := last + int64(clock.t.Sub(anchor)/time.Millisecond)
				if d := out - want; d > tc.tol || d < -tc.tol-1 {
					if in > live+200 { // after the squeezed frames' catch-up
						t.Fatalf("live tag %d became %d, want %d (the old last %d + real time since it) ± %d", in, out, want, last, tc.tol)
					}
				}
			}
			if tl.sw != nil {
				t.Fatal("the switch did not settle")
			}
		})
	}
}
