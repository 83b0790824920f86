package mp4

import "testing"

// TestSamplesPartial checks walks that start and stop inside the tables.
func TestSamplesPartial(t *testing.T) {
	f, _ := parseFixture(t, fixBFrames)
	for _, tr := range f.Tracks {
		st := tr.Samples
		for _, from := range []uint32{0, 1, 7, st.Len() / 2, st.Len() - 1, st.Len()} {
			n := uint32(0)
			for i, s := range st.Samples(from, from+40) {
				if r, _ := st.Sample(i); r != s || i != from+n {
					t.Fatalf("track %d from %d: sample %d %+v, want %+v", tr.ID, from, i, s, r)
				}
				n++
			}
			if want := min(from+40, st.Len()) - from; n != want {
				t.Fatalf("track %d from %d: %d samples, want %d", tr.ID, from, n, want)
			}
		}
	}
}
