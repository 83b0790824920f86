package load

import "testing"

func TestTagClock(t *testing.T) {
	c := new(tagClock)
	c.set(1, 40, 1000)
	if at, ok := c.get(1, 40); !ok || at != 1000 {
		t.Errorf("get: %d %v", at, ok)
	}
	if _, ok := c.get(0, 40); ok {
		t.Error("the audio track has the video tag's time")
	}
	// The same slot, 65.536 s of tag time later: a different tag.
	if _, ok := c.get(1, 40+clockSlots); ok {
		t.Error("a later tag in the same slot has the old tag's time")
	}
	c.set(1, 40+clockSlots, 0)
	if at, ok := c.get(1, 40+clockSlots); !ok || at != 0 {
		t.Errorf("time 0 reads back as %d %v", at, ok)
	}

	if first := c.firstSeen(0, 100, 500); first != 500 {
		t.Errorf("first viewer: %d", first)
	}
	if first := c.firstSeen(0, 100, 700); first != 500 {
		t.Errorf("second viewer: %d, want the first's 500", first)
	}
	if first := c.firstSeen(0, 100, 300); first != 300 {
		t.Errorf("an earlier receipt: %d, want 300", first)
	}
	if first := c.firstSeen(0, 100, 400); first != 300 {
		t.Errorf("after the earlier receipt: %d, want 300", first)
	}
}
