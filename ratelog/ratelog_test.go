package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
)

// newTest returns a Logger writing text lines to a buffer, with a clock the
// test moves by hand.
func newTest(every time.Duration, burst int) (*Logger, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	l := New(slog.New(h), every, burst)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	return l, &buf, &now
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestBurstThenRate(t *testing.T) {
	l, buf, now := newTest(time.Second, 3)
	for i := range 10 {
		l.Warn("1.2.3.4", "bad input", "n", i)
	}
	got := lines(buf)
	if len(got) != 3 {
		t.Fatalf("after a flood of 10 got %d lines, want the burst of 3:\n%s", len(got), strings.Join(got, "\n"))
	}
	for _, line := range got {
		if strings.Contains(line, "suppressed") {
			t.Errorf("burst line reports suppression: %s", line)
		}
	}

	*now = now.Add(time.Second)
	l.Warn("1.2.3.4", "bad input", "n", 10)
	l.Warn("1.2.3.4", "bad input", "n", 11)
	got = lines(buf)
	if len(got) != 1 {
		t.Fatalf("one interval later got %d lines, want 1: %q", len(got), got)
	}
	if want := "level=WARN msg=\"bad input\" n=10 suppressed=7"; got[0] != want {
		t.Errorf("got %q, want %q", got[0], want)
	}

	*now = now.Add(time.Second)
	l.Warn("1.2.3.4", "bad input")
	if got := lines(buf); len(got) != 1 || !strings.HasSuffix(got[0], "suppressed=1") {
		t.Errorf("the count restarts after it is reported: %q", got)
	}
}

func TestSourcesAreIndependent(t *testing.T) {
	l, buf, _ := newTest(time.Hour, 1)
	l.Warn("a", "x")
	l.Warn("a", "x")
	l.Warn("b", "x")
	if got := lines(buf); len(got) != 2 {
		t.Errorf("got %d lines, want one per source: %q", len(got), got)
	}
}

// The addresses of one IPv6 /64 are one source: a client going through
// them gets one burst in all, not one each.
func TestIPv6NetworkIsOneSource(t *testing.T) {
	l, buf, _ := newTest(time.Hour, 3)
	for i := range 100 {
		l.Warn(fmt.Sprintf("2001:db8:1:2::%x", i+1), "bad input")
	}
	if got := lines(buf); len(got) != 3 {
		t.Fatalf("100 addresses of one /64 got %d lines, want the burst of 3", len(got))
	}
	l.Warn("2001:db8:1:3::1", "bad input") // another network
	l.Warn("10.0.0.1", "bad input")
	if got := lines(buf); len(got) != 2 {
		t.Fatalf("other sources got %d lines, want 2", len(got))
	}
}

func TestSourcesBounded(t *testing.T) {
	l, buf, _ := newTest(time.Hour, 1)
	l.maxSources = 4
	for i := range 100 {
		l.Warn(fmt.Sprint("10.0.0.", i), "x")
	}
	if n := len(l.sources); n != 4 || l.lru.Len() != 4 {
		t.Fatalf("tracking %d sources (list %d), want at most 4", n, l.lru.Len())
	}
	buf.Reset()
	// The most recent source is still tracked and still limited...
	l.Warn("10.0.0.99", "x")
	if got := lines(buf); len(got) != 0 {
		t.Errorf("recent source not limited: %q", got)
	}
	// ...while an evicted one starts over with a fresh burst.
	l.Warn("10.0.0.0", "x")
	if got := lines(buf); len(got) != 1 {
		t.Errorf("evicted source got %d lines, want 1", len(got))
	}
}

func TestRecentUseKeepsSource(t *testing.T) {
	l, buf, _ := newTest(time.Hour, 1)
	l.maxSources = 2
	l.Warn("a", "x")
	l.Warn("b", "x")
	l.Warn("a", "x") // a is now the most recent: b is the one to go
	l.Warn("c", "x")
	if _, ok := l.sources["a"]; !ok {
		t.Error("recently seen source evicted")
	}
	if _, ok := l.sources["b"]; ok {
		t.Error("least recently seen source kept")
	}
	lines(buf)
}

func TestCallerArgsUntouched(t *testing.T) {
	l, buf, now := newTest(time.Second, 1)
	l.Warn("s", "x")
	l.Warn("s", "x")
	*now = now.Add(time.Second)
	args := make([]any, 2, 10)
	args[0], args[1] = "k", "v"
	l.Warn("s", "x", args...)
	if extra := args[:4]; extra[2] != nil || extra[3] != nil {
		t.Errorf("Warn wrote into the caller's args: %v", extra)
	}
	if got := lines(buf); !strings.HasSuffix(got[len(got)-1], "k=v suppressed=1") {
		t.Errorf("got %q", got)
	}
}

func TestNoLimit(t *testing.T) {
	l, buf, _ := newTest(0, 0)
	for range 50 {
		l.Warn("s", "x")
	}
	if got := lines(buf); len(got) != 50 {
		t.Errorf("every=0 should not limit: got %d lines", len(got))
	}
}

func TestNilLogger(t *testing.T) {
	if New(nil, time.Second, 1).logger != slog.Default() {
		t.Error("nil logger should mean slog.Default()")
	}
}

func TestConcurrent(t *testing.T) {
	var buf testutil.SyncBuffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour, 2)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				l.Warn(fmt.Sprint("src", (g+i)%3), "x")
			}
		})
	}
	wg.Wait()
	if n := strings.Count(buf.String(), "\n"); n != 6 {
		t.Errorf("got %d lines, want 2 per source for 3 sources", n)
	}
}
