package web

import (
	"sync/atomic"
	"testing"
	"time"
)

// The figures of the project's benchmark stream: 30 video and about 43 audio
// tags per second for each viewer.
const benchTagsPerViewer = 73

func TestCoalesceWaitFollowsTheLoad(t *testing.T) {
	const budget = 6000
	most := 200 * time.Millisecond
	for _, c := range []struct {
		name    string
		viewers int64
		tags    float64
		want    time.Duration // within a microsecond
	}{
		{"no viewers", 0, 0, 0},
		{"idle server", 10, 10 * benchTagsPerViewer, 0},
		{"demand at the budget", 82, budget, 0},
		// 100·(1/6000 − 1/7300) s = 3 ms: less than a tag's interval (13.7 ms)
		{"100 viewers", 100, 100 * benchTagsPerViewer, 0},
		{"demand just under twice the budget", 164, 2*budget - 1, 0},
		// at 2B, w = τ = N/D
		{"demand at twice the budget", 164, 2 * budget, 13667 * time.Microsecond},
		// 200·(1/6000 − 1/14600) s
		{"200 viewers", 200, 200 * benchTagsPerViewer, 19635 * time.Microsecond},
		// 1000·(1/6000 − 1/73000) s
		{"1000 viewers", 1000, 1000 * benchTagsPerViewer, 152968 * time.Microsecond},
		{"3000 viewers: the maximum", 3000, 3000 * benchTagsPerViewer, most},
	} {
		got := coalesceWait(c.viewers, c.tags, budget, most)
		if d := got - c.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: wait %v, want %v", c.name, got, c.want)
		}
	}
}

// At the law's wait, the viewers' writes per second, N/(w + N/D), are the
// budget, whatever the crowd (below the maximum); and the wait grows with it.
func TestCoalesceWaitKeepsWritesAtTheBudget(t *testing.T) {
	const budget = 6000
	var last time.Duration
	for viewers := int64(90); viewers <= 2000; viewers += 10 {
		demand := float64(viewers * benchTagsPerViewer)
		w := coalesceWait(viewers, demand, budget, time.Second)
		if w < last {
			t.Fatalf("%d viewers wait %v, less than %v for fewer", viewers, w, last)
		}
		last = w
		if w == 0 {
			continue
		}
		writes := float64(viewers) / (w.Seconds() + float64(viewers)/demand)
		if writes < budget*0.999 || writes > budget*1.001 {
			t.Fatalf("%d viewers: %.0f writes per second at a wait of %v, want %d", viewers, writes, w, budget)
		}
	}
	if last == 0 {
		t.Fatal("2000 viewers do not wait")
	}
}

func TestViewerLoadRate(t *testing.T) {
	var l viewerLoad
	at := func(ms int) int64 { return int64(time.Duration(ms) * time.Millisecond) }
	l.rate(at(1000)) // the first estimate: nothing sent yet
	l.sent(500)
	if r := l.rate(at(1100)); r != 0 {
		t.Fatalf("rate %v before a period has passed, want the last estimate 0", r)
	}
	if r := l.rate(at(1250)); r != 1000 {
		t.Fatalf("rate %v after 500 tags in 250 ms following an idle period, want the mean of 0 and 2000", r)
	}
	l.sent(500)
	if r := l.rate(at(1500)); r != 1500 {
		t.Fatalf("rate %v, want the mean of 1000 and 2000", r)
	}
	// A long quiet period counts as such.
	if r := l.rate(at(11500)); r != 750 {
		t.Fatalf("rate %v after 10 s without tags, want the mean of 1500 and 0", r)
	}
}

func TestPacerModes(t *testing.T) {
	var viewers atomic.Int64
	var load viewerLoad
	now := epoch.Add(time.Hour)
	viewers.Store(1000)
	// Two seconds of 1000 viewers of the bench stream, after an idle start.
	load.rate(sinceEpoch(now.Add(-2 * time.Second)))
	load.sent(73000)
	load.rate(sinceEpoch(now.Add(-time.Second)))
	load.sent(73000)
	limits := Limits{Coalesce: 200 * time.Millisecond, CoalesceWrites: 6000}

	// The estimate is the mean of 54750 and 73000 tags per second.
	if w := newPacer(&viewers, &load, limits).wait(now); w < 147*time.Millisecond || w > 149*time.Millisecond {
		t.Errorf("adaptive wait %v at 1000 viewers, want about 148 ms", w)
	}
	limits.CoalesceMode = CoalesceFixed
	if w := newPacer(&viewers, &load, limits).wait(now); w != limits.Coalesce {
		t.Errorf("fixed wait %v, want %v", w, limits.Coalesce)
	}
	limits.Coalesce = 0
	limits.CoalesceMode = CoalesceAdaptive
	if w := newPacer(&viewers, &load, limits).wait(now); w != 0 {
		t.Errorf("wait %v with coalescing off", w)
	}
	viewers.Store(5)
	limits.Coalesce = 200 * time.Millisecond
	// 5 viewers: an idle server, once the estimate has followed the crowd
	// out, halving the difference each period.
	p := newPacer(&viewers, &load, limits)
	for i := 1; i <= 8; i++ {
		load.sent(365 / 4)
		p.wait(now.Add(time.Duration(i) * coalescePeriod))
	}
	if w := p.wait(now.Add(9 * coalescePeriod)); w != 0 {
		t.Errorf("wait %v on an idle server", w)
	}
}
