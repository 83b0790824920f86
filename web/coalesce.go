package web

import (
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// Coalescing: after a write a viewer may wait before the next, so that the
// tags of that time leave in one write. Each write costs a wake-up and a
// system call (and a TLS record or a QUIC packet) whatever its size, so
// merging is what makes a crowd cheap; it costs each viewer the wait in lag.
//
// The control law of the adaptive mode spends that lag only when the server
// is busy. It keeps the server's writes per second near a budget B:
//
//	N viewers receive D tags per second between them (the demand: the
//	writes the server would make, one per tag, without waiting). A viewer
//	that waits w after each write, then writes with the next tag, writes
//	once per w + τ, where τ = N/D is its mean time from a moment to the
//	next tag. N writers make N/(w + τ) writes per second; setting that to B
//	gives
//
//	    w = N·(1/B − 1/D),   at most the configured maximum.
//
// A wait shorter than τ merges less than one more tag per write on average:
// not worth its lag, and a short sleep on a busy machine lasts far longer
// than asked. So viewers write at once while w < τ, which is while D < 2B,
// and the law starts at w = τ, where the writes per second are B.
//
// An idle server (D < 2B: few viewers, or a low tag rate) writes every tag
// at once; from there w grows with the crowd, about linearly in N, until the
// maximum, where the fixed mode always is. D counts the tags handed
// to viewers, which waiting does not change (the same tags leave, merged), so
// the law has no feedback loop to oscillate: w follows the load, not itself.
// D is measured over periods of coalescePeriod and smoothed, so that a crowd
// arriving is followed within a second or so.

// CoalesceMode chooses how long a viewer waits before a write.
type CoalesceMode uint8

const (
	// CoalesceAdaptive waits per the control law above, at most Coalesce.
	CoalesceAdaptive CoalesceMode = iota
	// CoalesceFixed always waits Coalesce.
	CoalesceFixed
)

// DefaultCoalesceWrites is the write budget of the adaptive mode per CPU
// the process may use: on the project's 2-core machine, 6000 writes per
// second cost about a tenth of the CPU and put the lag p99 of 1000 viewers of
// a 2 Mbit/s stream near 150 ms.
const DefaultCoalesceWrites = 3000

const coalescePeriod = 250 * time.Millisecond

// coalesceWait is the control law: the wait of a viewer when viewers receive
// tagsPerSec tags per second between them, for a budget of writes per second.
func coalesceWait(viewers int64, tagsPerSec, budget float64, most time.Duration) time.Duration {
	if viewers <= 0 || budget <= 0 || tagsPerSec < 2*budget {
		return 0
	}
	w := float64(viewers) * (1/budget - 1/tagsPerSec) * float64(time.Second)
	if w >= float64(most) {
		return most
	}
	return time.Duration(w)
}

// viewerLoad measures how many tags per second the server's viewers
// receive. It is shared by every viewer of a Live and outlives configuration
// reloads.
type viewerLoad struct {
	tags atomic.Int64 // tags handed to viewers, ever
	// The estimate, redone by whichever viewer first finds it older than
	// coalescePeriod.
	at       atomic.Int64  // when it was made, nanoseconds on the process's clock
	atTags   atomic.Int64  // tags at that time
	tagsRate atomic.Uint64 // tags per second, float64 bits
}

// epoch anchors the monotonic clock of viewerLoad's nanosecond times.
var epoch = time.Now()

func sinceEpoch(now time.Time) int64 { return int64(now.Sub(epoch)) }

// sent counts tags handed to a viewer.
func (l *viewerLoad) sent(tags int) { l.tags.Add(int64(tags)) }

// rate is the tags per second of viewers, re-estimated when the last
// estimate is older than coalescePeriod: the mean of the last period's rate
// and the previous estimate, which smooths the bursts of keyframes and of
// viewers arriving.
func (l *viewerLoad) rate(now int64) float64 {
	at := l.at.Load()
	if elapsed := now - at; elapsed >= int64(coalescePeriod) && l.at.CompareAndSwap(at, now) {
		tags := l.tags.Load()
		last := float64(tags-l.atTags.Swap(tags)) / time.Duration(elapsed).Seconds()
		if at != 0 {
			last = (last + math.Float64frombits(l.tagsRate.Load())) / 2
		}
		l.tagsRate.Store(math.Float64bits(last))
		return last
	}
	return math.Float64frombits(l.tagsRate.Load())
}

// pacer is one viewer's wait before a write, per the limits it joined with.
type pacer struct {
	viewers *atomic.Int64 // viewers now
	load    *viewerLoad
	mode    CoalesceMode
	most    time.Duration
	budget  float64 // writes per second
}

func newPacer(viewers *atomic.Int64, load *viewerLoad, limits Limits) pacer {
	budget := limits.CoalesceWrites
	if budget <= 0 {
		budget = DefaultCoalesceWrites * runtime.GOMAXPROCS(0)
	}
	return pacer{viewers: viewers, load: load, mode: limits.CoalesceMode, most: limits.Coalesce, budget: float64(budget)}
}

// wait is how long to wait at now before the next write.
func (p pacer) wait(now time.Time) time.Duration {
	if p.most <= 0 || p.mode == CoalesceFixed {
		return p.most
	}
	return coalesceWait(p.viewers.Load(), p.load.rate(sinceEpoch(now)), p.budget, p.most)
}
