package buffer

import (
	"errors"
	"io"

	"github.com/flvedge/flvedge/flv"
)

// Cursor is one viewer's position in a Ring. It turns the shared packets into
// that viewer's FLV byte stream: the FLV header, metadata and sequence headers,
// the window from the latest keyframe, then live packets, skipping the tracks
// the viewer does not get. It is not safe for concurrent use; each viewer's
// writer owns its cursor.
type Cursor struct {
	r         *Ring
	want      Tracks
	announced Tracks // fixed when the FLV header is sent
	sentHead  bool
	started   bool // next is a valid position
	next      uint64
	seen      uint64    // the ring's next at the last Next: Wait waits for more
	behind    bool      // the last Next left more due than its batch
	due       *dueGroup // the group of the last WaitUntil; guarded by the ring's lock
	stopped   bool      // guarded by the ring's lock
	closed    bool      // guarded by the ring's lock
	skips     int
	header    [flv.HeaderSize + 4]byte
}

// NewCursor returns a cursor for a viewer that wants the given tracks
// (AllTracks, or one of them for only_audio / only_video). Close it when the
// viewer goes: while cursors are open, the window keeps older tags for them.
func (r *Ring) NewCursor(want Tracks) *Cursor {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cursors++
	return &Cursor{r: r, want: want}
}

// Close stops the cursor and lets the window forget it; more calls do
// nothing.
func (c *Cursor) Close() {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if !c.closed {
		c.closed, c.stopped = true, true
		r.cursors--
		if c.due != nil {
			r.wake(c.due)
		}
		r.changed.Broadcast()
	}
}

// Announced is the set of tracks the viewer's FLV header declared; zero until
// the header has been handed out.
func (c *Cursor) Announced() Tracks { return c.announced }

// Skips counts how often the viewer fell out of the window and was moved to
// the newest keyframe.
func (c *Cursor) Skips() int { return c.skips }

// ErrStopped ends a cursor after Stop.
var ErrStopped = errors.New("buffer: viewer stopped")

// Next appends to bufs the bytes due to the viewer, at most a bounded batch,
// and returns the result without blocking; nothing due leaves bufs as it
// was. The slices are shared and must not be modified. After the ring is
// closed and everything due was handed out, it returns io.EOF; a viewer that
// fell out of the window under Config.DropSlow gets ErrTooSlow, a stopped
// one ErrStopped.
func (c *Cursor) Next(bufs [][]byte) ([][]byte, error) {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c.seen = r.next
	if c.stopped {
		return bufs, ErrStopped
	}
	if c.started && c.next < r.first {
		if r.cfg.DropSlow {
			return bufs, ErrTooSlow
		}
		c.skips++
		r.skips++
		c.started = false
	}
	if !c.started {
		bufs = c.start(bufs)
	}
	c.behind = false
	if c.started {
		for n := 0; c.next < r.next && n < maxBatch; c.next++ {
			p := &r.slots[c.next&r.mask()]
			if t := trackOf(p.Type); t != 0 && !c.announced.Has(t) {
				continue
			}
			bufs = append(bufs, p.bytesFor(c.announced))
			n++
		}
		if c.next < r.next {
			c.behind = true
			return bufs, nil // more pending than one batch
		}
	}
	if r.closed {
		return bufs, io.EOF
	}
	return bufs, nil
}

// Behind reports whether the last Next left more due than one batch: call
// Next again at once, Wait would wait for the next append. Otherwise the
// viewer may Wait right after writing what Next handed out, without another
// Next to find nothing: Wait returns at once if tags came meanwhile.
func (c *Cursor) Behind() bool { return c.behind }

// Wait blocks until the ring has changed since the last Next, is closed, or
// the cursor is stopped.
func (c *Cursor) Wait() {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.next == c.seen && !r.closed && !c.stopped {
		r.changed.Wait()
	}
}

// Stop ends the cursor from another goroutine: Wait returns, and Next
// fails with ErrStopped.
func (c *Cursor) Stop() {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c.stopped = true
	if c.due != nil {
		r.wake(c.due) // the others of its group find what is due early
	}
	r.changed.Broadcast()
}

// start positions the cursor at the ring's start point and hands out what a
// player needs before it: the FLV header (once per viewer) and the current
// metadata and sequence headers of the announced tracks.
func (c *Cursor) start(bufs [][]byte) [][]byte {
	r := c.r
	pos, ok := r.startPoint()
	if !ok {
		return bufs
	}
	if !c.sentHead {
		c.announced = c.want & r.seen
		bufs = append(bufs, flv.AppendHeader(c.header[:0], c.announced.Has(TrackAudio), c.announced.Has(TrackVideo)))
		if meta := &r.config[configIndex(flv.TagScript)]; meta.Bytes != nil {
			bufs = append(bufs, meta.bytesFor(c.announced))
		}
		c.sentHead = true
	}
	for _, tagType := range [...]uint8{flv.TagVideo, flv.TagAudio} {
		if cfg := &r.config[configIndex(tagType)]; cfg.Bytes != nil && c.announced.Has(trackOf(tagType)) {
			bufs = append(bufs, cfg.Bytes)
		}
	}
	c.next, c.started = pos, true
	return bufs
}
