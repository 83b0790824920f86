package buffer

import (
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// Rings sharing a Budget stay within it together: past it, each keeps its
// latest keyframe onwards, and no more than its share.
func TestBudgetBoundsRingsTogether(t *testing.T) {
	const frame = 10 << 10
	b := NewBudget(100 << 10)
	// steady sends a keyframe every 4 frames; hog sends one keyframe and
	// then only inter frames, a GOP that never ends.
	steady := NewRing(Config{Budget: b})
	hog := NewRing(Config{Budget: b})
	// Both are watched, so that their windows would reach back beyond their
	// latest keyframes (a ring nobody watches keeps only from it).
	steady.NewCursor(AllTracks)
	hog.NewCursor(AllTracks)
	body := make([]byte, frame-slotCost) // a packet costs frame, its slot included
	full := false
	for i := range 100 {
		steady.Append(Packet{Type: flv.TagVideo, Timestamp: uint32(i), Keyframe: i%4 == 0, Bytes: body})
		hog.Append(Packet{Type: flv.TagVideo, Timestamp: uint32(i), Keyframe: i == 0, Bytes: body})
		full = full || b.Full()
		if used := b.Used(); used > b.Max()+2*frame {
			t.Fatalf("after %d frames each the rings hold %d bytes, budget %d", i+1, used, b.Max())
		}
		if got := int64(steady.Bytes() + hog.Bytes()); got != b.Used() {
			t.Fatalf("rings hold %d bytes, budget counts %d", got, b.Used())
		}
	}
	if !full || !b.Crowded() {
		t.Fatalf("the budget was never full (%v), or is not crowded after (%d of %d bytes)", full, b.Used(), b.Max())
	}
	// The steady stream still starts new viewers at a keyframe.
	if _, ok := steady.startPoint(); !ok {
		t.Error("the steady ring lost its start point")
	}
	if hog.Bytes() > int(b.Max()/2)+frame {
		t.Errorf("the hog keeps %d bytes, over its share of %d", hog.Bytes(), b.Max()/2)
	}
	steady.Close()
	hog.Close()
	steady.Close()
	if b.Used() != 0 {
		t.Errorf("closed rings still count %d bytes", b.Used())
	}
}
