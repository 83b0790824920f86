package load

import (
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// monitor watches the viewers from one goroutine: it finds stalls, so that
// viewers need no timer of their own, samples the server, and prints the
// progress line.
type monitor struct {
	r        *runner
	viewers  []viewer
	launched *atomic.Int64
	server   *serverProbe
	out      io.Writer // nil: no progress line

	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// Written by the monitor's goroutine, read after stop.
	stalls         int
	stalledViewers int
}

func startMonitor(r *runner, viewers []viewer, launched *atomic.Int64, server *serverProbe, out io.Writer) *monitor {
	m := &monitor{r: r, viewers: viewers, launched: launched, server: server, out: out,
		quit: make(chan struct{}), done: make(chan struct{})}
	go m.loop()
	return m
}

func (m *monitor) stop() {
	m.stopOnce.Do(func() { close(m.quit) })
	<-m.done
}

func (m *monitor) loop() {
	defer close(m.done)
	// stallFrom is the lastRecv at which a viewer's current stall began,
	// so that one long silence counts once.
	stallFrom := make([]int64, len(m.viewers))
	for i := range stallFrom {
		stallFrom[i] = -1
	}
	stalled := make([]bool, len(m.viewers))
	tick := time.NewTicker(monitorTick)
	defer tick.Stop()
	line := progressState{at: time.Now()}
	if m.server != nil {
		line.cpu, _ = readProc(m.server.pid)
	}
	for ticks := 1; ; ticks++ {
		select {
		case <-m.quit:
			return
		case <-tick.C:
		}
		now := m.r.now()
		n := int(m.launched.Load())
		for i := range n {
			v := &m.viewers[i]
			if viewerState(v.state.Load()) != viewerReceiving {
				continue
			}
			last := v.lastRecv.Load()
			if now-last > stallAfter.Microseconds() && stallFrom[i] != last {
				stallFrom[i] = last
				m.stalls++
				if !stalled[i] {
					stalled[i] = true
					m.stalledViewers++
				}
			}
		}
		if ticks%int(time.Second/monitorTick) == 0 {
			m.progress(&line, n)
		}
	}
}

// progressState is what the previous progress line saw, for rates.
type progressState struct {
	at    time.Time
	bytes int64
	cpu   procSample
}

// progress samples the server and prints one line.
func (m *monitor) progress(prev *progressState, n int) {
	now := time.Now()
	var up, failed int
	var bytes, tsErrors int64
	var lag histogram
	measuring := m.r.measuring.Load()
	for i := range n {
		v := &m.viewers[i]
		switch viewerState(v.state.Load()) {
		case viewerReceiving:
			up++
		case viewerFailed:
			failed++
		}
		bytes += v.bytes.Load()
		tsErrors += v.tsErrors.Load()
		if measuring {
			lag.merge(&v.lag)
		}
	}
	elapsed := now.Sub(prev.at)
	rate := mbps(bytes-prev.bytes, elapsed)
	prev.at, prev.bytes = now, bytes

	server := m.server.sample(&prev.cpu, elapsed)
	if m.out == nil {
		return
	}
	lagText := "-"
	if lag.n > 0 {
		lagText = formatMillis(lag.quantile(0.99) / 1e3)
	}
	fmt.Fprintf(m.out, "%5.0fs  viewers %d/%d up, %d failed  %8.1f Mbit/s  lag p99 %s  stalls %d  ts errors %d%s\n",
		math.Round(time.Since(m.r.start).Seconds()), up, len(m.viewers), failed, rate, lagText, m.stalls, tsErrors, server)
}

// sample reads the server's process for the progress line, keeps its peak
// RSS, and says what it used since prev, which it updates. A nil probe
// says nothing.
func (s *serverProbe) sample(prev *procSample, elapsed time.Duration) string {
	if s == nil {
		return ""
	}
	p, err := readProc(s.pid)
	if err != nil {
		s.failures.Add(1)
		return "  server: " + err.Error()
	}
	cpu := (p.cpu - prev.cpu).Seconds() / elapsed.Seconds()
	*prev = p
	s.lastRSS.Store(p.rss)
	if p.rss > s.peakRSS.Load() {
		s.peakRSS.Store(p.rss)
	}
	return fmt.Sprintf("  server cpu %3.0f%% rss %s", cpu*100, formatBytes(float64(p.rss)))
}
