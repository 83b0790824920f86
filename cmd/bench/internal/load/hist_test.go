package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<22; v += 1 + v/97 {
		b := bucketOf(v)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucket %d for %d after %d", b, v, prev)
		}
		prev = b
		mid := bucketValue(b)
		if err := math.Abs(mid-float64(v)) / max(float64(v), 1); err > 1.0/32+1e-9 {
			t.Fatalf("%d µs reads back as %.1f: %.1f%% off", v, mid, 100*err)
		}
	}
	if b := bucketOf(math.MaxInt64); b != histBuckets-1 {
		t.Errorf("the largest value is in bucket %d, want the last, %d", b, histBuckets-1)
	}
	if b := bucketOf(-5); b != 0 {
		t.Errorf("a negative value is in bucket %d", b)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var l liveHistogram
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]float64, 100000)
	for i := range values {
		v := int64(rng.ExpFloat64() * 2000) // µs
		values[i] = float64(v)
		l.add(v)
	}
	var h histogram
	h.merge(&l)
	h.merge(&liveHistogram{}) // merging an empty one changes nothing
	want := quantiles(values, 0.5, 0.99, 1)
	for i, q := range []float64{0.5, 0.99, 1} {
		got := h.quantile(q)
		if math.Abs(got-want[i])/want[i] > 1.0/32 {
			t.Errorf("q%v = %.1f, exact %.1f", q, got, want[i])
		}
	}
	if h.n != uint64(len(values)) || float64(h.max) != slices.Max(values) {
		t.Errorf("n %d max %d", h.n, h.max)
	}
	if !math.IsNaN(new(histogram).quantile(0.5)) {
		t.Error("an empty histogram has a median")
	}
}

func TestQuantilesNearestRank(t *testing.T) {
	values := []float64{5, 1, 4, 2, 3}
	got := quantiles(values, 0, 0.2, 0.21, 0.5, 0.99, 1)
	if want := []float64{1, 1, 2, 3, 5, 5}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i)
	}
	if got := quantiles(hundred, 0.5, 0.99); got[0] != 50 || got[1] != 99 {
		t.Errorf("p50 %v p99 %v of 1..100", got[0], got[1])
	}
	if got := quantiles(nil, 0.5); !math.IsNaN(got[0]) {
		t.Errorf("median of nothing: %v", got[0])
	}
}
