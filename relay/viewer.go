package relay

import (
	"sync"

	"github.com/flvedge/flvedge/buffer"
)

// Viewer is one viewer of a stream: its cursor, counted while it watches so
// that a pulled stream knows when nobody is left.
type Viewer struct {
	*buffer.Cursor
	stream *Stream
	once   sync.Once
}

// Join adds a viewer that wants the given tracks. Call Leave when it goes.
func (s *Stream) Join(want buffer.Tracks) *Viewer {
	s.viewers.Add(1)
	s.counters.sessions.Add(1)
	return &Viewer{Cursor: s.ring.NewCursor(want), stream: s}
}

// Leave ends the viewer's count and closes its cursor; more calls do nothing.
func (v *Viewer) Leave() {
	v.once.Do(func() {
		v.Cursor.Close()
		v.stream.viewers.Add(-1)
	})
}

// Sent counts bytes written to the viewer.
func (v *Viewer) Sent(n int64) { v.stream.Sent(n) }

// Viewers is the number of viewers now.
func (s *Stream) Viewers() int { return int(s.viewers.Load()) }

// WindowBytes is the size of the stream's window now.
func (s *Stream) WindowBytes() int { return s.ring.Bytes() }
