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

// BenchmarkAppend measures the publisher's side alone: one tag into a full
// window (so every append also trims one).
func BenchmarkAppend(b *testing.B) {
	r := NewRing(Config{MaxBytes: 1 << 20})
	tag := make([]byte, 4<<10)
	r.Append(key(0, "k"))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Append(Packet{Type: flv.TagVideo, Timestamp: uint32(i), Keyframe: i%60 == 0, Bytes: tag})
	}
}

// BenchmarkCursorRead measures one viewer taking a batch of 10 pending tags.
func BenchmarkCursorRead(b *testing.B) {
	r := NewRing(Config{})
	r.Append(key(0, "k"))
	c := r.NewCursor(AllTracks)
	bufs, _ := c.Next(nil)
	tag := make([]byte, 4<<10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range 10 {
			r.Append(Packet{Type: flv.TagVideo, Timestamp: uint32(i*10 + j), Bytes: tag})
		}
		bufs, _ = c.Next(bufs[:0])
	}
}

// BenchmarkAppendWithinBudget is BenchmarkAppend with the window counted
// in a Budget shared with others, as a server's streams are, and full, so
// that every append also trims to the latest keyframe.
func BenchmarkAppendWithinBudget(b *testing.B) {
	budget := NewBudget(1 << 20)
	NewRing(Config{Budget: budget}) // another stream: the share is half
	r := NewRing(Config{MaxBytes: 1 << 20, Budget: budget})
	tag := make([]byte, 4<<10)
	r.Append(key(0, "k"))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Append(Packet{Type: flv.TagVideo, Timestamp: uint32(i), Keyframe: i%60 == 0, Bytes: tag})
	}
}

// BenchmarkWakeViewers measures one appended tag waking 100 viewers that
// wait for it in their own goroutines, as a server's writers do, each
// taking it with Next and waiting again: the cost per tag of the
// broadcast, the viewers' wake-ups and their turns of the ring's lock.
func BenchmarkWakeViewers(b *testing.B) {
	const viewers = 100
	r := NewRing(Config{})
	r.Append(key(0, "k"))
	taken := make(chan struct{}, viewers)
	for range viewers {
		c := r.NewCursor(AllTracks)
		go func() {
			defer c.Close()
			var bufs [][]byte
			for {
				var err error
				if bufs, err = c.Next(bufs[:0]); err != nil {
					return
				}
				if len(bufs) > 0 {
					taken <- struct{}{}
				}
				c.Wait()
			}
		}()
	}
	for range viewers { // the start: header and keyframe
		<-taken
	}
	tag := make([]byte, 4<<10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Append(Packet{Type: flv.TagVideo, Timestamp: uint32(i), Bytes: tag})
		for range viewers {
			<-taken
		}
	}
	b.StopTimer()
	r.Close()
}
