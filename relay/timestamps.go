package relay

import "time"

// timeline maps a publisher's timestamps to the ones viewers see. They pass
// through unchanged (players rebase) until a step that no player survives: a
// track going backwards, a jump forward beyond maxJump, a wrap at 2^32 ms
// (handled by unwrapping), or a new publisher taking over the stream. There
// the offset is reset so that the output continues from where it was, plus the
// wall-clock time that really passed.
//
// Tracks are checked apart: audio and video interleave with small
// out-of-order steps between them, which are normal and left alone.
type timeline struct {
	maxJump time.Duration
	now     func() time.Time

	started  bool
	rebase   bool   // the next tag starts a new segment (a new publisher)
	lastIn   uint32 // the previous input timestamp, any track
	lastInX  int64  // lastIn unwrapped
	offset   int64  // output = unwrapped input + offset
	lastOut  [2]int64
	seen     [2]bool // the track has had a tag: its lastOut counts
	maxOut   int64
	lastWall time.Time
}

// backwardTolerance lets a track step back this far without a reset; the
// step is absorbed by holding the output still. Encoders round timestamps,
// and some jitter by a few milliseconds.
const backwardTolerance = 100

func newTimeline(maxJump time.Duration, now func() time.Time) *timeline {
	return &timeline{maxJump: maxJump, now: now}
}

// restart makes the next tag continue the output after the real gap,
// whatever its input timestamp: a new publisher starts its own clock.
func (tl *timeline) restart() { tl.rebase = true }

// current is the latest output timestamp, for tags (codec configuration)
// that do not advance the timeline.
func (tl *timeline) current() uint32 { return uint32(tl.maxOut) }

// next maps input timestamp in of the given track (0 audio, 1 video).
func (tl *timeline) next(track int, in uint32) uint32 {
	wall := tl.now()
	if !tl.started {
		tl.started = true
		tl.lastIn, tl.lastInX = in, int64(in)
		tl.lastOut[track], tl.seen[track] = int64(in), true
		tl.maxOut, tl.lastWall = int64(in), wall
		return in
	}
	inX := tl.lastInX + int64(int32(in-tl.lastIn))
	out := inX + tl.offset
	jump := int64(tl.maxJump / time.Millisecond)
	back := tl.seen[track] && out < tl.lastOut[track]-backwardTolerance
	if tl.rebase || back || out > tl.maxOut+jump {
		gap := max(int64(wall.Sub(tl.lastWall)/time.Millisecond), 0)
		out = tl.maxOut + gap
		tl.offset = out - inX
		tl.rebase = false
	}
	if tl.seen[track] {
		out = max(out, tl.lastOut[track])
	}
	tl.lastIn, tl.lastInX = in, inX
	tl.lastOut[track], tl.seen[track] = out, true
	tl.maxOut = max(tl.maxOut, out)
	tl.lastWall = wall
	return uint32(out)
}
