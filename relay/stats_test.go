package relay

import (
	"testing"
	"time"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
)

func TestStatsMeasureTheInput(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	h.now = clock.now
	p, _ := h.Publish("live", "a", func() {})
	defer p.Close()
	publishStart(t, p, 0) // metadata says 320 wide
	v := h.Lookup("live", "a").Join(buffer.AllTracks)
	defer v.Leave()
	v.Sent(1234)

	// 3 s of 25 fps video with a keyframe every second, 1000-byte frames.
	frame := append(interFrame(), make([]byte, 990)...)
	for i := 1; i <= 75; i++ {
		clock.advance(40 * time.Millisecond)
		data := frame
		if i%25 == 0 {
			data = append(keyframe(), make([]byte, 990)...)
		}
		mustWrite(t, p, flv.TagVideo, uint32(i*40), data)
	}
	st := h.Lookup("live", "a").Stats()
	if !st.Live || st.Viewers != 1 || st.ViewerSessions != 1 || st.BytesOut != 1234 {
		t.Fatalf("live %v, viewers %d, sessions %d, bytes out %d", st.Live, st.Viewers, st.ViewerSessions, st.BytesOut)
	}
	if st.FPS < 24 || st.FPS > 26 {
		t.Fatalf("fps %.1f, want 25", st.FPS)
	}
	if st.BitrateIn < 190_000 || st.BitrateIn > 210_000 {
		t.Fatalf("bitrate in %.0f, want 200 kbit/s", st.BitrateIn)
	}
	if st.KeyframeInterval != time.Second {
		t.Fatalf("keyframe interval %v", st.KeyframeInterval)
	}
	if st.VideoCodec != "avc1" || st.AudioCodec != "aac" || st.Width != 320 {
		t.Fatalf("codecs %q %q, width %d", st.VideoCodec, st.AudioCodec, st.Width)
	}
	if list := h.Streams(); len(list) != 1 || list[0].Name != "a" {
		t.Fatalf("streams: %v", list)
	}
}
