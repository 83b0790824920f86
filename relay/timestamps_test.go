package relay

import (
	"testing"
	"time"
)

// fakeClock advances only when told, so that the "real gap" is exact.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

const (
	audio = 0
	video = 1
)

func TestTimelinePassesNormalTimestampsThrough(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	// Interleaved tracks step back against each other; that is normal.
	for _, step := range []struct {
		track int
		in    uint32
	}{{video, 1000}, {audio, 990}, {video, 1040}, {audio, 1013}, {video, 1080}, {audio, 1036}} {
		clock.advance(20 * time.Millisecond)
		if out := tl.next(step.track, step.in); out != step.in {
			t.Fatalf("track %d: %d became %d", step.track, step.in, out)
		}
	}
}

func TestTimelineSmoothsBackwardStep(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	tl.next(video, 50_000)
	clock.advance(40 * time.Millisecond)
	out := tl.next(video, 1_000) // the encoder reset its clock
	if out != 50_040 {
		t.Fatalf("after a step back got %d, want 50040 (last + real gap)", out)
	}
	clock.advance(40 * time.Millisecond)
	if out := tl.next(video, 1_040); out != 50_080 {
		t.Fatalf("next frame got %d, want 50080", out)
	}
}

func TestTimelineSmoothsForwardJump(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	tl.next(video, 1000)
	clock.advance(40 * time.Millisecond)
	if out := tl.next(video, 1000+3_600_000); out != 1040 {
		t.Fatalf("an hour's jump became %d, want 1040", out)
	}
	// A jump within the limit is a real gap in the source and passes.
	clock.advance(2 * time.Second)
	if out := tl.next(video, 1000+3_600_000+2000); out != 3040 {
		t.Fatalf("a 2 s step became %d, want 3040", out)
	}
}

func TestTimelineUnwrapsAt32Bits(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	first := uint32(1<<32 - 100)
	tl.next(video, first)
	clock.advance(40 * time.Millisecond)
	out := tl.next(video, 60) // 160 ms later, past the wrap
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
	if out := tl.next(video, 1800); out != 3500 {
		t.Fatalf("after restart got %d, want 3500", out)
	}
	if out := tl.next(audio, 1790); out != 3490 {
		t.Fatalf("other track after restart got %d, want 3490", out)
	}
}

func TestTimelineClampsJitter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	tl := newTimeline(3*time.Second, clock.now)
	tl.next(video, 1000)
	if out := tl.next(video, 998); out != 1000 {
		t.Fatalf("2 ms step back gave %d, want 1000 held", out)
	}
	if out := tl.next(video, 1040); out != 1040 {
		t.Fatalf("then %d, want 1040", out)
	}
}
