package relay

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
)

// Config tunes every stream of a Hub. Zero fields take defaults.
type Config struct {
	Window buffer.Config
	// Grace is how long viewers of a stream whose publisher left stay
	// connected, waiting for it (or a new one) to come back. Default 10 s;
	// negative for none.
	Grace time.Duration
	// Takeover lets a new publisher of a live stream replace the current
	// one (which is disconnected) instead of being refused.
	Takeover bool
	// MaxTimestampJump is the largest forward step of publisher timestamps
	// passed through as it is; a larger one is smoothed. Default 3 s.
	MaxTimestampJump time.Duration
	Logger           *slog.Logger
}

const (
	defaultGrace   = 10 * time.Second
	defaultMaxJump = 3 * time.Second
)

var (
	// ErrStreamBusy refuses a publisher for a stream that has one.
	ErrStreamBusy = errors.New("stream is already being published")
	// ErrReplaced ends a publisher whose stream was taken over.
	ErrReplaced = errors.New("publisher replaced by a newer one")
	// ErrHubClosed refuses work after Close.
	ErrHubClosed = errors.New("relay closed")
)

// Hub holds the live streams of a server by app and name.
type Hub struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	streams map[streamKey]*Stream
	closed  bool
}

type streamKey struct{ app, name string }

// NewHub returns an empty hub.
func NewHub(cfg Config) *Hub {
	if cfg.Grace == 0 {
		cfg.Grace = defaultGrace
	}
	if cfg.MaxTimestampJump <= 0 {
		cfg.MaxTimestampJump = defaultMaxJump
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Hub{cfg: cfg, now: time.Now, streams: make(map[streamKey]*Stream)}
}

// Stream is one live stream: its window and its current publisher, if any.
type Stream struct {
	App, Name string
	hub       *Hub
	ring      *buffer.Ring

	current atomic.Pointer[Publisher]
	grace   *time.Timer // guarded by hub.mu; set while the stream has no publisher
	graceID int         // guarded by hub.mu; tells a stale timer from the current one

	viewers atomic.Int64

	writeMu    sync.Mutex // one publisher writes at a time, also across a takeover
	timeline   *timeline
	everHad    bool                      // guarded by writeMu: a publisher came before, so the next one restarts the timeline
	lastConfig [flv.TagScript + 1][]byte // guarded by writeMu: bodies of the current configuration, by tag type
	arena      arena                     // guarded by writeMu
	meter      meter                     // guarded by writeMu

	since    time.Time
	counters counters
}

// Lookup returns the stream app/name, or nil when nobody publishes it and its
// grace period, if any, has ended.
func (h *Hub) Lookup(app, name string) *Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams[streamKey{app, name}]
}

// Publish makes the caller the publisher of app/name. kick is called, at most
// once and from another goroutine, when the publisher must go: replaced by a
// takeover or the hub closing. The caller must Close the publisher when it
// leaves. A name outside CheckName's rules is refused with ErrBadName: no
// stream in a hub has one.
func (h *Hub) Publish(app, name string, kick func()) (*Publisher, error) {
	if err := CheckName(app, name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	key := streamKey{app, name}
	s := h.streams[key]
	if s == nil {
		s = h.newStream(app, name)
		h.streams[key] = s
	}
	old := s.current.Load()
	if old != nil && !h.cfg.Takeover {
		h.mu.Unlock()
		return nil, ErrStreamBusy
	}
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	p := &Publisher{stream: s, kick: kick}
	s.current.Store(p)
	h.mu.Unlock()

	if old != nil {
		h.cfg.Logger.Info("publisher taken over", "app", app, "stream", name)
		old.kick()
	}
	s.writeMu.Lock()
	if s.everHad {
		s.newSourceLocked()
	}
	s.everHad = true
	s.writeMu.Unlock()
	return p, nil
}

// Close ends every stream: viewers receive what is pending and their
// responses end; publishers are kicked.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	streams := h.streams
	h.streams = make(map[streamKey]*Stream)
	var kicks []*Publisher
	for _, s := range streams {
		if s.grace != nil {
			s.grace.Stop()
		}
		if p := s.current.Swap(nil); p != nil {
			kicks = append(kicks, p)
		}
	}
	h.mu.Unlock()
	for _, p := range kicks {
		p.kick()
	}
	for _, s := range streams {
		s.ring.Close()
	}
}

func (h *Hub) newStream(app, name string) *Stream {
	return &Stream{App: app, Name: name, hub: h, ring: buffer.NewRing(h.cfg.Window),
		timeline: newTimeline(h.cfg.MaxTimestampJump, h.now), since: h.now()}
}

// Live reports whether the stream has a publisher now (rather than waiting
// for one within its grace period).
func (s *Stream) Live() bool { return s.current.Load() != nil }

// unpublish is called when p leaves: the stream waits for a new publisher
// for the grace period, then ends.
func (s *Stream) unpublish(p *Publisher) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.current.CompareAndSwap(p, nil) {
		return // already replaced, or the hub is closing
	}
	s.graceID++
	id := s.graceID
	s.grace = time.AfterFunc(h.cfg.Grace, func() { s.expire(id) })
}

func (s *Stream) expire(graceID int) {
	h := s.hub
	h.mu.Lock()
	if s.graceID != graceID || s.current.Load() != nil || h.streams[streamKey{s.App, s.Name}] != s {
		h.mu.Unlock()
		return // a publisher came back in time
	}
	s.endLocked()
	h.mu.Unlock()
	s.finish()
}

// endLocked takes the stream out of the hub; finish, after the hub's lock is
// released, ends its viewers.
func (s *Stream) endLocked() {
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	s.graceID++
	if h := s.hub; h.streams[streamKey{s.App, s.Name}] == s {
		delete(h.streams, streamKey{s.App, s.Name})
	}
}

// end removes the stream at once, without a grace period, if p still
// publishes it.
func (s *Stream) end(p *Publisher) {
	h := s.hub
	h.mu.Lock()
	if !s.current.CompareAndSwap(p, nil) {
		h.mu.Unlock()
		return
	}
	s.endLocked()
	h.mu.Unlock()
	s.finish()
}

// newSourceLocked prepares the stream for tags from another source: its
// clock restarts after the real gap, and its codec configuration goes to the
// viewers even where it equals the old one, because the decoder starts over
// with the new encoder's stream.
func (s *Stream) newSourceLocked() {
	s.timeline.restart()
	clear(s.lastConfig[:])
}

func (s *Stream) finish() {
	s.hub.cfg.Logger.Info("stream ended", "app", s.App, "stream", s.Name)
	s.ring.Close()
}

// Kick disconnects the stream's publisher, if it has one; the stream then
// waits for a publisher for its grace period, as after any disconnection.
func (s *Stream) Kick() bool {
	p := s.current.Load()
	if p != nil {
		p.kick()
	}
	return p != nil
}
