// Package ratelog logs repeated bad input at a bounded rate per source, so a
// flood of garbage from one peer (or from many) cannot become a flood of log
// lines.
package ratelog

import (
	"container/list"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxSources bounds how many sources a Logger remembers. Past it the
// least recently seen source is forgotten, so a flood from many addresses costs
// a fixed amount of memory; a forgotten source simply starts a fresh burst.
const DefaultMaxSources = 1024

// Logger writes warnings through an slog.Logger, at most burst lines per
// source and then one per interval. It is safe for concurrent use.
type Logger struct {
	logger     *slog.Logger
	every      rate.Limit
	burst      int
	maxSources int
	now        func() time.Time // replaced in tests to drive the limiter

	mu      sync.Mutex
	sources map[string]*list.Element // of *source
	lru     list.List                // front is the most recently seen
}

type source struct {
	key        string
	limiter    *rate.Limiter
	suppressed int
}

// New returns a Logger that lets burst lines per source through at once and
// then one every interval. A nil logger means slog.Default(); every <= 0 turns
// the limit off; burst < 1 counts as 1.
func New(logger *slog.Logger, every time.Duration, burst int) *Logger {
	if logger == nil {
		logger = slog.Default()
	}
	limit := rate.Inf
	if every > 0 {
		limit = rate.Every(every)
	}
	return &Logger{
		logger:     logger,
		every:      limit,
		burst:      max(burst, 1),
		maxSources: DefaultMaxSources,
		now:        time.Now,
		sources:    make(map[string]*list.Element),
	}
}

// Warn logs msg with args at warn level unless source has used up its rate.
// Lines held back are counted, and the next line that gets through for that
// source carries the count as suppressed=N.
func (l *Logger) Warn(source string, msg string, args ...any) {
	n, ok := l.allow(source)
	if !ok {
		return
	}
	if n > 0 {
		// A fresh slice so the caller's backing array is never written.
		args = append(args[:len(args):len(args)], slog.Int("suppressed", n))
	}
	l.logger.Warn(msg, args...)
}

// allow reports whether a line for key may be written now and, if so, how
// many were suppressed before it.
func (l *Logger) allow(key string) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.lookup(key)
	if !s.limiter.AllowN(l.now(), 1) {
		s.suppressed++
		return 0, false
	}
	suppressed, s.suppressed = s.suppressed, 0
	return suppressed, true
}

func (l *Logger) lookup(key string) *source {
	if e, ok := l.sources[key]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*source)
	}
	if l.lru.Len() >= l.maxSources {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.sources, oldest.Value.(*source).key)
	}
	s := &source{key: key, limiter: rate.NewLimiter(l.every, l.burst)}
	l.sources[key] = l.lru.PushFront(s)
	return s
}

// ClipLen is how much of a client's or a peer's text Clip keeps.
const ClipLen = 64

// Clip shortens text from outside (a name, a header, an error body) before
// it goes into a log line, so that a long one cannot make every line about
// it long.
func Clip(s string) string {
	if len(s) <= ClipLen {
		return s
	}
	return s[:ClipLen] + "…"
}
