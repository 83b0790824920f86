package load

import (
	"sync/atomic"

	"github.com/flvedge/flvedge/flv"
)

// tagClock remembers, for each track and tag timestamp of the last minute,
// when the tag was published, or else when the first viewer received it,
// in microseconds since the run began. Viewers look tags up by timestamp
// for every tag they receive, so a slot is one atomic word: the timestamp's
// upper 16 bits, which tell this minute's tag from older ones in the same
// slot, and the time plus one, so that zero means empty.
type tagClock struct {
	slots [2][clockSlots]atomic.Uint64
}

const (
	clockSlots = 1 << 16 // one per millisecond of tag time
	clockTime  = 1<<48 - 1
)

func clockKey(ts uint32) uint64 { return uint64(ts>>16) << 48 }

// set records that the tag at ts on track was published at micros.
func (c *tagClock) set(track flv.Track, ts uint32, micros int64) {
	c.slots[track][ts&(clockSlots-1)].Store(clockKey(ts) | uint64(micros+1)&clockTime)
}

// get returns when the tag at ts on track was published.
func (c *tagClock) get(track flv.Track, ts uint32) (int64, bool) {
	v := c.slots[track][ts&(clockSlots-1)].Load()
	if v&^clockTime != clockKey(ts) || v&clockTime == 0 {
		return 0, false
	}
	return int64(v&clockTime) - 1, true
}

// firstSeen records that a viewer received the tag at ts on track at
// micros and returns the earliest time any viewer received it.
func (c *tagClock) firstSeen(track flv.Track, ts uint32, micros int64) int64 {
	slot := &c.slots[track][ts&(clockSlots-1)]
	mine := clockKey(ts) | uint64(micros+1)&clockTime
	for {
		v := slot.Load()
		if v&^clockTime == clockKey(ts) && v&clockTime != 0 && int64(v&clockTime)-1 <= micros {
			return int64(v&clockTime) - 1
		}
		if slot.CompareAndSwap(v, mine) {
			return micros
		}
	}
}
