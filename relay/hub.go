package relay

import (
	"errors"
	"fmt"
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
	// Limits over all streams; beyond them new work is refused with
	// ErrAtCapacity. 0: none.
	MaxStreams    int   // streams: published, pulled, or in their grace period
	MaxPublishers int   // streams with a publisher (or a pull) feeding them now
	MaxWindow     int64 // bytes of all windows together (buffer.Budget)
	Logger        *slog.Logger
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
	// ErrAtCapacity refuses a publisher beyond a limit of Config.
	ErrAtCapacity = errors.New("server at capacity")
	// ErrStreamHeld refuses a publisher other than the one that left a
	// stream, while the stream's viewers wait for that one to come back.
	ErrStreamHeld = errors.New("stream is held for its publisher until its grace period ends")
)

// Hub holds the live streams of a server by app and name.
type Hub struct {
	cfg Config
	now func() time.Time

	budget *buffer.Budget // nil without MaxWindow

	mu         sync.Mutex
	streams    map[streamKey]*Stream
	publishers int // streams with a publisher now
	closed     bool
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
	h := &Hub{cfg: cfg, now: time.Now, streams: make(map[streamKey]*Stream)}
	if cfg.MaxWindow > 0 {
		h.budget = buffer.NewBudget(cfg.MaxWindow)
		h.cfg.Window.Budget = h.budget
	}
	return h
}

// WindowBytes is the bytes of every stream's window together.
func (h *Hub) WindowBytes() int64 { return h.budget.Used() }

// Room reports, with ErrAtCapacity, why a new stream would be refused now;
// nil if it would not.
func (h *Hub) Room() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.roomLocked(true)
}

// roomLocked checks the limits for one more publisher, and one more stream
// if newStream.
func (h *Hub) roomLocked(newStream bool) error {
	switch {
	case newStream && h.cfg.MaxStreams > 0 && len(h.streams) >= h.cfg.MaxStreams:
		return fmt.Errorf("%w: %d streams (limits.streams)", ErrAtCapacity, h.cfg.MaxStreams)
	case h.cfg.MaxPublishers > 0 && h.publishers >= h.cfg.MaxPublishers:
		return fmt.Errorf("%w: %d publishers (limits.publishers)", ErrAtCapacity, h.cfg.MaxPublishers)
	case newStream && h.budget.Crowded():
		return fmt.Errorf("%w: windows hold 90%% of %d bytes (limits.window_bytes)", ErrAtCapacity, h.budget.Max())
	}
	return nil
}

// Stream is one live stream: its window and its current publisher, if any.
type Stream struct {
	App, Name string
	hub       *Hub
	ring      *buffer.Ring

	current atomic.Pointer[Publisher]
	grace   *time.Timer // guarded by hub.mu; set while the stream has no publisher
	graceID int         // guarded by hub.mu; tells a stale timer from the current one
	owner   string      // guarded by hub.mu; identity of the latest publisher

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

// Publish makes the caller the publisher of app/name, as the server's own
// publisher (a pull, the demo): PublishAs with no identity.
func (h *Hub) Publish(app, name string, kick func()) (*Publisher, error) {
	return h.PublishAs(app, name, "", kick)
}

// PublishAs makes the caller the publisher of app/name. kick is called, at
// most once and from another goroutine, when the publisher must go:
// replaced by a takeover or the hub closing. The caller must Close the
// publisher when it leaves. A name outside CheckName's rules is refused
// with ErrBadName: no stream in a hub has one.
//
// owner is who the publisher is (for RTMP, what its credentials proved).
// Only the same owner may continue a stream whose viewers wait for their
// publisher in its grace period, or take a live one over: anyone else would
// continue their responses with another picture. Others get ErrStreamHeld
// until the grace period ends (ErrStreamBusy while the stream is live).
func (h *Hub) PublishAs(app, name, owner string, kick func()) (*Publisher, error) {
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
	// A stream is made only with room for it and its publisher; one that
	// exists needs room for its publisher when it has none.
	if err := h.roomLocked(s == nil); err != nil && (s == nil || s.current.Load() == nil) {
		h.mu.Unlock()
		return nil, err
	}
	if s == nil {
		s = h.newStream(app, name)
		s.owner = owner
		h.streams[key] = s
	}
	old := s.current.Load()
	switch {
	case old != nil && (!h.cfg.Takeover || s.owner != owner):
		h.mu.Unlock()
		return nil, ErrStreamBusy
	case s.owner != owner:
		h.mu.Unlock()
		return nil, ErrStreamHeld
	}
	if old == nil {
		h.publishers++
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
	h.publishers = 0
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
	h.publishers--
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
	h.publishers--
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
