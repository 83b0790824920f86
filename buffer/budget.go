package buffer

import "sync/atomic"

// Budget bounds the windows of many rings together: the bytes of all the
// streams of a server. While their total is at or over the maximum, every
// ring that appends trims itself to its latest keyframe, and a ring that
// holds more than its share (the maximum over the number of rings) trims
// even that. Trimmed so, the rings hover just under the maximum: from 90%
// of it on (Crowded) the server should refuse new streams. A nil *Budget
// bounds nothing.
type Budget struct {
	max   int64
	used  atomic.Int64
	rings atomic.Int64
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max} }

// Full reports whether the rings hold max bytes or more.
func (b *Budget) Full() bool { return b != nil && b.used.Load() >= b.max }

// Crowded reports whether the rings hold 90% of max or more: too much for
// one more.
func (b *Budget) Crowded() bool { return b != nil && b.used.Load() >= b.max-b.max/10 }

// Used is the bytes the rings hold now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Max is the budget's bound.
func (b *Budget) Max() int64 {
	if b == nil {
		return 0
	}
	return b.max
}

func (b *Budget) add(n int) {
	if b != nil {
		b.used.Add(int64(n))
	}
}

// share is what one ring may keep while the budget is full.
func (b *Budget) share() int64 { return b.max / max(b.rings.Load(), 1) }
