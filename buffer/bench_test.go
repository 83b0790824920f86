package buffer

import (
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// BenchmarkFanOut measures one appended tag handed to 100 viewers: the cost
// per tag of the ring, its wake-up and the cursors, without sockets.
func BenchmarkFanOut(b *testing.B) {
	const viewers = 100
	r := NewRing(Config{})
	r.Append(key(0, "k"))
	cursors := make([]*Cursor, viewers)
	bufs := make([][][]byte, viewers)
	for i := range cursors {
		cursors[i] = r.NewCursor(AllTracks)
		bufs[i], _ = cursors[i].Next(nil)
	}
	tag := make([]byte, 8<<10) // a 2 Mbit/s stream's tags average a few KiB
	b.ReportAllocs()
	b.SetBytes(int64(len(tag)) * viewers)
	for i := 0; b.Loop(); i++ {
		r.Append(Packet{Type: flv.TagVideo, Timestamp: uint32(i), Bytes: tag})
		for v, c := range cursors {
			bufs[v], _ = c.Next(bufs[v][:0])
		}
	}
}
