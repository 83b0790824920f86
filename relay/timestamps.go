package relay

import (
	"time"

	"github.com/flvedge/flvedge/flv"
)

// timeline maps a publisher's timestamps to the ones viewers see. They pass
// through unchanged (players rebase) until a step that no player survives: a
// track going backwards, a jump forward beyond maxJump, a wrap at 2^32 ms
// (handled by unwrapping), or a new source taking over the stream. There
// the offset is reset so that the output continues from where it was, plus the
// wall-clock time that really passed.
//
// Tracks are checked apart: audio and video interleave with small
// out-of-order steps between them, which are normal and left alone.
type timeline struct {
	maxJump time.Duration
	now     func() time.Time

	started  bool
	sw       *sourceSwitch // set from a new source's arrival until it settles
	lastIn   uint32        // the previous input timestamp, any track
	lastInX  int64         // lastIn unwrapped
	offset   int64         // output = unwrapped input + offset
	lastOut  [2]int64
	seen     [2]bool // the track has had a tag: its lastOut counts
	maxOut   int64
	lastWall time.Time
}

// sourceSwitch is a change of source in progress (another origin, a new
// publisher), until the new source's tags come in real time.
//
// A new source starts with a burst: an origin sends its window from its
// latest keyframe, up to a GOP (seconds) of tags at once. Stamped one after
// the other, the burst would push the viewers' timeline ahead of the wall
// clock by its whole length, which players show as a stall or a skip. So no
// tag of a new source is stamped ahead of real time: the limit is the old
// source's last output plus the wall-clock time since it came. Burst tags
// meet the limit and are squeezed there: video 1 ms apart (the decoder needs
// every frame from the keyframe on, and they show only for an instant),
// audio that would not advance its track dropped (it is sound of the past).
// Once the tags arrive in real time (none ahead of the limit for
// settleQuiet), the switch is over and timestamps pass through again.
//
// Which clock the new source is on is decided per tag, from its timestamps,
// not assumed from where it comes from. Two encoders of one source (an
// encoder sending to a primary and a backup ingest, or two synchronised
// ones) stamp the same moment alike: a new tag that lands within
// sameClockTolerance of real time on the old clock (old offset) is on it,
// and the old offset is kept, so content and time stay aligned across the
// switch (the burst's older tags, content the viewers already had, are
// squeezed or dropped as above). Any other clock (another encoder started at
// another time, a restarted one) is aligned to real time: its newest tag
// lands at the old last output plus the real gap. Either way the step the
// viewers see is the real gap, within sameClockTolerance and 1 ms per
// squeezed frame.
type sourceSwitch struct {
	anchorOut  int64     // output of the old source's last tag
	anchorWall time.Time // when it was stamped
	oldOffset  int64     // the old source's clock
	fresh      bool      // no tag of the new source yet
	lastAhead  time.Time // the latest tag that came ahead of real time
	began      time.Time // the new source's first tag
}

const (
	// backwardTolerance lets a track step back this far without a reset;
	// the step is absorbed by holding the output still. Encoders round
	// timestamps, and some jitter by a few milliseconds.
	backwardTolerance = 100
	// sameClockTolerance: a new source whose tags land this close to real
	// time on the old clock is on the old clock. Encoders of one source
	// agree to a frame or two; encoders started apart differ by seconds.
	sameClockTolerance = 300
	// settleQuiet: a switch is over when no tag came ahead of real time
	// for this long. A burst comes much faster than that.
	settleQuiet = 300 * time.Millisecond
	// maxSwitch ends a switch in any case: a source whose clock runs
	// faster than real time is passed through as before.
	maxSwitch = 5 * time.Second
)

func newTimeline(maxJump time.Duration, now func() time.Time) *timeline {
	return &timeline{maxJump: maxJump, now: now}
}

// restart makes the tags from now on a new source's: no step ahead of the
// real time that passed, whatever their timestamps.
func (tl *timeline) restart() {
	if !tl.started {
		return // the first source's timestamps pass as they are
	}
	tl.sw = &sourceSwitch{anchorOut: tl.maxOut, anchorWall: tl.lastWall, oldOffset: tl.offset, fresh: true}
}

// current is the latest output timestamp, for tags (codec configuration)
// that do not advance the timeline.
func (tl *timeline) current() uint32 { return uint32(tl.maxOut) }

// next maps input timestamp in of the given track. A tag
// not to send (audio of a new source's burst, see sourceSwitch) gives false.
func (tl *timeline) next(track flv.Track, in uint32) (uint32, bool) {
	wall := tl.now()
	if !tl.started {
		tl.started = true
		tl.lastIn, tl.lastInX = in, int64(in)
		tl.lastOut[track], tl.seen[track] = int64(in), true
		tl.maxOut, tl.lastWall = int64(in), wall
		return in, true
	}
	inX := tl.lastInX + int64(int32(in-tl.lastIn))
	tl.lastIn, tl.lastInX = in, inX
	var out int64
	if tl.sw != nil {
		var keep bool
		if out, keep = tl.switching(track, inX, wall); !keep {
			return 0, false
		}
	} else {
		out = inX + tl.offset
		jump := int64(tl.maxJump / time.Millisecond)
		back := tl.seen[track] && out < tl.lastOut[track]-backwardTolerance
		if back || out > tl.maxOut+jump {
			out = tl.maxOut + millis(wall.Sub(tl.lastWall))
			tl.offset = out - inX
		}
		if tl.seen[track] {
			out = max(out, tl.lastOut[track])
		}
	}
	tl.lastOut[track], tl.seen[track] = out, true
	tl.maxOut = max(tl.maxOut, out)
	tl.lastWall = wall
	return uint32(out), true
}

// switching stamps a tag of a new source; see sourceSwitch.
func (tl *timeline) switching(track flv.Track, inX int64, wall time.Time) (int64, bool) {
	sw := tl.sw
	limit := sw.anchorOut + millis(wall.Sub(sw.anchorWall))
	out := inX + tl.offset
	switch onOld := inX + sw.oldOffset; {
	case onOld >= limit-sameClockTolerance && onOld <= limit+sameClockTolerance:
		out = onOld
	case sw.fresh:
		out = limit
	}
	if sw.fresh {
		sw.fresh, sw.began, sw.lastAhead = false, wall, wall
	}
	if out > limit {
		out = limit
		sw.lastAhead = wall
	}
	tl.offset = out - inX
	if tl.seen[track] && out <= tl.lastOut[track] {
		sw.lastAhead = wall // still ahead of its own track
		if track == flv.AudioTrack {
			return 0, false
		}
		out = tl.lastOut[track] + 1
	}
	if wall.Sub(sw.lastAhead) >= settleQuiet || wall.Sub(sw.began) >= maxSwitch {
		tl.sw = nil
	}
	return out, true
}

// millis is d in whole milliseconds, never negative.
func millis(d time.Duration) int64 { return max(int64(d/time.Millisecond), 0) }
