package relay

import "testing"

func TestArenaTagsDoNotOverlap(t *testing.T) {
	var a arena
	var bufs [][]byte
	for i := range 100 {
		b := a.alloc(1000)
		for range 1000 {
			b = append(b, byte(i))
		}
		bufs = append(bufs, b)
	}
	for i, b := range bufs {
		for _, x := range b {
			if x != byte(i) {
				t.Fatalf("tag %d was overwritten", i)
			}
		}
	}
	if big := a.alloc(arenaChunk); cap(big) != arenaChunk {
		t.Fatalf("a big tag got capacity %d", cap(big))
	}
}
