package rtmp

import (
	"bytes"
	"testing"
)

// FuzzChunkReader feeds arbitrary bytes to the chunk reader: it must never
// panic, never return a message over the limit, and never hold more buffer
// than its budget. Seeds live in testdata/fuzz/FuzzChunkReader too.
func FuzzChunkReader(f *testing.F) {
	f.Add(cat(
		hexb("03 000064 000005 14 01000000"), []byte("hello"),
		hexb("43 00000a 000003 09"), []byte("abc"),
		hexb("83 000005"), []byte("xyz"),
		hexb("c3"), []byte("123"),
	))
	f.Add(cat(
		hexb("04 ffffff 0000c8 09 01000000 01000000"), seq(128),
		hexb("c4 01000000"), seq(72),
		hexb("84 ffffff 00ffffff"), seq(200)[:128],
	))
	f.Add(cat(
		hexb("04 000000 0003e8 09 01000000"), seq(128),
		hexb("02 000000 000004 01 00000000 000001f4"),
		hexb("c4"), seq(500),
		hexb("02 000000 000004 02 00000000 00000004"),
		hexb("00 24 000000 000001 08 00000000 61"),
		hexb("01 ff ff 000000 000001 08 00000000 61"),
	))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 16
		cr := NewChunkReader(bytes.NewReader(in), limit)
		for {
			m, err := cr.ReadMessage()
			if err != nil {
				break
			}
			if len(m.Payload) > limit {
				t.Fatalf("message of %d bytes past the limit", len(m.Payload))
			}
			held := 0
			for _, cs := range cr.streams {
				held += cap(cs.buf)
			}
			if held != cr.buffered || held > cr.maxBuffered {
				t.Fatalf("buffers hold %d bytes, counted %d, budget %d", held, cr.buffered, cr.maxBuffered)
			}
			if len(cr.streams) > maxChunkStreams || cr.partials > maxPartialStreams || cr.partials < 0 {
				t.Fatalf("%d chunk streams, %d partial", len(cr.streams), cr.partials)
			}
		}
	})
}
