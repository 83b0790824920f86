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
	if big := a.alloc(arenaMaxChunk); cap(big) != arenaMaxChunk {
		t.Fatalf("a big tag got capacity %d", cap(big))
	}
}

// Chunks follow the stream's tag sizes: small for a low bitrate, up to
// arenaMaxChunk for a high one.
func TestArenaChunksFollowTagSizes(t *testing.T) {
	for _, c := range []struct{ tag, chunk int }{
		{100, arenaMinChunk},
		{400, arenaTagsPerChunk * 400},
		{4000, arenaMaxChunk},
	} {
		var a arena
		for range 200 {
			a.alloc(c.tag)
		}
		if got := cap(a.chunk); got < c.chunk*9/10 || got > c.chunk {
			t.Errorf("tags of %d bytes: chunks of %d bytes, want about %d", c.tag, got, c.chunk)
		}
	}
}
