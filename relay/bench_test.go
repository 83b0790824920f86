package relay

import (
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// BenchmarkWriteTag measures the publish path of one video frame: parse,
// timestamp, encode once, append.
func BenchmarkWriteTag(b *testing.B) {
	h := NewHub(Config{})
	defer h.Close()
	p, _ := h.Publish("live", "bench", func() {})
	defer p.Close()
	data := append(interFrame(), make([]byte, 8<<10)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		if err := p.WriteTag(flv.Tag{Type: flv.TagVideo, Timestamp: uint32(i * 33), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
}
