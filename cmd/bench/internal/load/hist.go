package load

import (
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
)

// Durations are counted in microseconds in log-linear buckets: exact below
// 32 µs, then 16 buckets per power of two, so that a percentile read back
// is within 3% of the true value whatever its size. Thousands of viewers
// each count every tag without a lock or an allocation.
const (
	histExact     = 32
	histSubBits   = 4
	histSub       = 1 << histSubBits
	histMaxExp    = 31 // 2^32 µs, over an hour: anything longer is counted as that
	histBuckets   = histExact + (histMaxExp-5+1)*histSub
	histMaxMicros = 1<<(histMaxExp+1) - 1
)

// bucketOf is the bucket counting v microseconds.
func bucketOf(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	if v > histMaxMicros {
		v = histMaxMicros
	}
	e := bits.Len64(uint64(v)) - 1 // 5 and up
	sub := int(v>>(e-histSubBits)) & (histSub - 1)
	return histExact + (e-5)*histSub + sub
}

// bucketValue is what bucket i stands for: its value when exact, else the
// middle of its range.
func bucketValue(i int) float64 {
	if i < histExact {
		return float64(i)
	}
	e := 5 + (i-histExact)/histSub
	sub := (i - histExact) % histSub
	width := int64(1) << (e - histSubBits)
	low := int64(histSub+sub) * width
	return float64(low) + float64(width-1)/2
}

// liveHistogram is written by one viewer and read by the progress line
// while it runs.
type liveHistogram struct {
	counts [histBuckets]atomic.Uint32
	max    atomic.Int64
}

func (h *liveHistogram) add(micros int64) {
	h.counts[bucketOf(micros)].Add(1)
	if micros > h.max.Load() {
		h.max.Store(micros)
	}
}

// histogram sums viewers' histograms.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64
}

func (h *histogram) merge(l *liveHistogram) {
	for i := range l.counts {
		c := uint64(l.counts[i].Load())
		h.counts[i] += c
		h.n += c
	}
	h.max = max(h.max, l.max.Load())
}

// quantile is the value under which a fraction q of the counts lie, by
// nearest rank, never above the largest value counted; NaN when empty.
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketValue(i), float64(h.max))
		}
	}
	return float64(h.max)
}

// quantiles returns the nearest-rank quantiles of values, which it sorts;
// NaN for each when there are none.
func quantiles(values []float64, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	slices.Sort(values)
	for i, q := range qs {
		if len(values) == 0 {
			out[i] = math.NaN()
			continue
		}
		rank := max(int(math.Ceil(q*float64(len(values)))), 1)
		out[i] = values[rank-1]
	}
	return out
}
