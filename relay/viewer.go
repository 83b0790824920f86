package relay

import "github.com/flvedge/flvedge/buffer"

// Viewer is one viewer of a stream: its cursor, which the stream's ring
// counts while it is open, so that a pulled stream knows when nobody is
// left.
type Viewer struct {
	*buffer.Cursor
	stream *Stream
}

// Join adds a viewer that wants the given tracks. Call Leave when it goes.
func (s *Stream) Join(want buffer.Tracks) *Viewer {
	s.counters.sessions.Add(1)
	return &Viewer{Cursor: s.ring.NewCursor(want), stream: s}
}

// Leave closes the viewer's cursor, which counts it out; more calls do
// nothing.
func (v *Viewer) Leave() { v.Cursor.Close() }

// Sent counts bytes written to the viewer.
func (v *Viewer) Sent(n int64) { v.stream.Sent(n) }

// Viewers is the number of viewers now: the open cursors of the stream's
// ring.
func (s *Stream) Viewers() int { return s.ring.Cursors() }

// WindowBytes is the size of the stream's window now.
func (s *Stream) WindowBytes() int { return s.ring.Bytes() }
