package buffer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/flvedge/flvedge/flv"
)

// pkt makes a packet whose bytes name it, so that tests can read back the order.
func pkt(tagType uint8, ts uint32, name string) Packet {
	return Packet{Type: tagType, Timestamp: ts, Bytes: []byte(name)}
}

func key(ts uint32, name string) Packet {
	p := pkt(flv.TagVideo, ts, name)
	p.Keyframe = true
	return p
}

func config(tagType uint8, name string) Packet {
	p := pkt(tagType, 0, name)
	p.Config = true
	return p
}

// drain collects everything due now, without the FLV header (checked apart).
func drain(t *testing.T, c *Cursor) []string {
	t.Helper()
	var got []string
	for {
		bufs, err := c.Next(nil)
		for _, b := range bufs {
			if bytes.HasPrefix(b, []byte("FLV")) {
				got = append(got, "HEADER")
				continue
			}
			got = append(got, string(b))
		}
		if err != nil || len(bufs) == 0 {
			return got
		}
	}
}

func publishGOP(r *Ring, start uint32, n int) {
	r.Append(key(start, fmt.Sprintf("k%d", start)))
	for i := 1; i < n; i++ {
		ts := start + uint32(i)*10
		r.Append(pkt(flv.TagAudio, ts, fmt.Sprintf("a%d", ts)))
		r.Append(pkt(flv.TagVideo, ts, fmt.Sprintf("v%d", ts)))
	}
}

func TestNewViewerStartsAtLatestKeyframeWithConfig(t *testing.T) {
	r := NewRing(Config{})
	r.Append(config(flv.TagScript, "meta"))
	r.Append(config(flv.TagVideo, "avc"))
	r.Append(config(flv.TagAudio, "aac"))
	publishGOP(r, 0, 3)
	publishGOP(r, 100, 2)

	got := drain(t, r.NewCursor(AllTracks))
	want := []string{"HEADER", "meta", "avc", "aac", "k100", "a110", "v110"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestHeaderAnnouncesOnlyTracksTheViewerGets(t *testing.T) {
	cases := []struct {
		name      string
		want      Tracks
		withAudio bool
		announced Tracks
		flags     byte
	}{
		{"both", AllTracks, true, AllTracks, 5},
		{"only audio", TrackAudio, true, TrackAudio, 4},
		{"only video", TrackVideo, true, TrackVideo, 1},
		{"stream without audio", AllTracks, false, TrackVideo, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(Config{})
			meta := config(flv.TagScript, "meta")
			meta.ByTracks = &[AllTracks + 1][]byte{TrackAudio: []byte("meta-a"), TrackVideo: []byte("meta-v")}
			r.Append(meta)
			r.Append(config(flv.TagVideo, "avc"))
			if tc.withAudio {
				r.Append(config(flv.TagAudio, "aac"))
			}
			r.Append(key(0, "k0"))
			if tc.withAudio {
				r.Append(pkt(flv.TagAudio, 5, "a5"))
			}
			r.Append(pkt(flv.TagVideo, 10, "v10"))

			c := r.NewCursor(tc.want)
			bufs, err := c.Next(nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Announced() != tc.announced {
				t.Fatalf("announced %v, want %v", c.Announced(), tc.announced)
			}
			if flags := bufs[0][4]; flags != tc.flags {
				t.Fatalf("header flags %d, want %d", flags, tc.flags)
			}
			for _, b := range bufs[1:] {
				s := string(b)
				if tc.announced == TrackAudio && (s == "avc" || s == "k0" || s == "v10" || s == "meta") {
					t.Fatalf("only-audio viewer got %q", s)
				}
				if tc.announced == TrackVideo && (s == "aac" || s == "a5" || s == "meta") {
					t.Fatalf("video-only viewer got %q", s)
				}
			}
		})
	}
}

func TestViewerWaitsForKeyframeAfterCodecChange(t *testing.T) {
	r := NewRing(Config{})
	r.Append(config(flv.TagVideo, "avc1"))
	publishGOP(r, 0, 2)
	// The publisher reconnects with new sequence headers; its first keyframe
	// has not come yet, so nothing the old headers describe may be started on.
	r.Append(config(flv.TagVideo, "avc2"))
	c := r.NewCursor(AllTracks)
	if got := drain(t, c); len(got) != 0 {
		t.Fatalf("started before the new keyframe: %v", got)
	}
	r.Append(key(50, "k50"))
	if got := fmt.Sprint(drain(t, c)); got != "[HEADER avc2 k50]" {
		t.Fatalf("got %s", got)
	}
}

func TestConnectedViewerGetsCodecChangeInOrder(t *testing.T) {
	r := NewRing(Config{})
	r.Append(config(flv.TagVideo, "avc1"))
	publishGOP(r, 0, 1)
	c := r.NewCursor(AllTracks)
	drain(t, c)
	r.Append(config(flv.TagVideo, "avc2"))
	r.Append(key(50, "k50"))
	if got := fmt.Sprint(drain(t, c)); got != "[avc2 k50]" {
		t.Fatalf("got %s", got)
	}
}

func TestAudioOnlyStreamStartsAtLiveEdge(t *testing.T) {
	r := NewRing(Config{})
	r.Append(config(flv.TagAudio, "aac"))
	r.Append(pkt(flv.TagAudio, 0, "a0"))
	c := r.NewCursor(AllTracks)
	if got := fmt.Sprint(drain(t, c)); got != "[HEADER aac]" {
		t.Fatalf("got %s", got)
	}
	r.Append(pkt(flv.TagAudio, 23, "a23"))
	if got := fmt.Sprint(drain(t, c)); got != "[a23]" {
		t.Fatalf("got %s", got)
	}
}

func TestWindowKeepsLatestGOPAndBoundsTime(t *testing.T) {
	r := NewRing(Config{MaxDuration: 100 * time.Millisecond})
	for gop := uint32(0); gop < 10; gop++ {
		publishGOP(r, gop*1000, 50) // 500 ms GOPs: longer than the window's time
	}
	// Only the last GOP remains: time trims up to the latest keyframe, never past it.
	if n := r.Len(); n != 1+2*49 {
		t.Fatalf("window holds %d packets, want one GOP (%d)", n, 1+2*49)
	}
	got := drain(t, r.NewCursor(AllTracks))
	if got[1] != "k9000" {
		t.Fatalf("started at %s", got[1])
	}
}

// A stream nobody watches keeps only what a new viewer needs: from the
// latest keyframe on. A viewer keeps the older tags within MaxDuration for as
// long as its cursor is open, and a new viewer's start is the same either way.
func TestIdleWindowKeepsOnlyTheLatestGOP(t *testing.T) {
	r := NewRing(Config{MaxDuration: time.Hour})
	r.Append(config(flv.TagVideo, "avc"))
	publishGOP(r, 0, 10)
	publishGOP(r, 1000, 10)
	if n := r.Len(); n != 1+2*9 {
		t.Fatalf("idle window holds %d packets, want the latest GOP (%d)", n, 1+2*9)
	}
	watcher := r.NewCursor(AllTracks)
	if got := drain(t, watcher); fmt.Sprint(got[:3]) != "[HEADER avc k1000]" {
		t.Fatalf("the viewer started with %v", got[:3])
	}
	publishGOP(r, 2000, 10)
	publishGOP(r, 3000, 10)
	if n := r.Len(); n != 3*(1+2*9) {
		t.Fatalf("watched window holds %d packets, want three GOPs (%d)", n, 3*(1+2*9))
	}
	newcomer := r.NewCursor(AllTracks)
	if got := drain(t, newcomer); fmt.Sprint(got[:3]) != "[HEADER avc k3000]" {
		t.Fatalf("a new viewer of a watched stream starts with %v", got[:3])
	}
	watcher.Close()
	newcomer.Close()
	r.Append(pkt(flv.TagAudio, 3095, "a3095"))
	if n := r.Len(); n != 1+2*9+1 {
		t.Fatalf("window after the viewers left holds %d packets, want the latest GOP and one (%d)", n, 1+2*9+1)
	}
	if got := drain(t, r.NewCursor(AllTracks)); fmt.Sprint(got[:3]) != "[HEADER avc k3000]" {
		t.Fatalf("a new viewer of an idle stream starts with %v", got[:3])
	}
}

// An audio-only stream's viewers start at the live edge: nobody watching, it
// keeps nothing; watched, it keeps MaxDuration.
func TestAudioOnlyWindowIsBoundedByTime(t *testing.T) {
	r := NewRing(Config{MaxDuration: 100 * time.Millisecond})
	r.Append(config(flv.TagAudio, "aac"))
	for ts := uint32(0); ts < 1000; ts += 20 {
		r.Append(pkt(flv.TagAudio, ts, "a"))
	}
	if n := r.Len(); n != 0 {
		t.Fatalf("idle audio window holds %d packets", n)
	}
	c := r.NewCursor(AllTracks)
	defer c.Close()
	for ts := uint32(1000); ts < 2000; ts += 20 {
		r.Append(pkt(flv.TagAudio, ts, "a"))
	}
	if n := r.Len(); n != 6 {
		t.Fatalf("watched audio window holds %d packets, want 100 ms of them (6)", n)
	}
}

func TestWindowBytesIsAHardBound(t *testing.T) {
	r := NewRing(Config{MaxBytes: 1000})
	r.Append(key(0, "k"))
	for i := range 1000 {
		r.Append(pkt(flv.TagVideo, uint32(i), "0123456789"))
	}
	if b := r.Bytes(); b > 1000 {
		t.Fatalf("window is %d bytes, bound 1000", b)
	}
}

// A flood of one-byte tags is bounded by what the packets cost in memory,
// slots included, not by their bytes alone (which let a 64 KiB window hold
// 65536 packets, over 3 MiB).
func TestWindowBytesCountSlots(t *testing.T) {
	const max = 64 << 10
	r := NewRing(Config{MaxBytes: max})
	for i := range 100_000 {
		r.Append(pkt(flv.TagAudio, uint32(i), "a"))
	}
	held := int(r.next-r.first) * int(unsafe.Sizeof(Packet{}))
	if held > max || r.Bytes() > max {
		t.Fatalf("a window bounded to %d bytes holds %d packets (%d bytes of slots), counted as %d bytes",
			max, r.next-r.first, held, r.Bytes())
	}
}

func TestSlowViewerJumpsToNewestKeyframe(t *testing.T) {
	r := NewRing(Config{MaxDuration: 50 * time.Millisecond})
	r.Append(config(flv.TagVideo, "avc"))
	publishGOP(r, 0, 3)
	c := r.NewCursor(AllTracks)
	drain(t, c)
	for gop := uint32(1); gop < 5; gop++ {
		publishGOP(r, gop*100, 10)
	}
	got := drain(t, c)
	if got[0] != "avc" || got[1] != "k400" {
		t.Fatalf("after falling behind got %v, want avc then k400", got[:2])
	}
	if c.Skips() != 1 {
		t.Fatalf("skips %d, want 1", c.Skips())
	}
}

func TestSlowViewerDroppedByPolicy(t *testing.T) {
	r := NewRing(Config{MaxDuration: 50 * time.Millisecond, DropSlow: true})
	publishGOP(r, 0, 3)
	c := r.NewCursor(AllTracks)
	drain(t, c)
	for gop := uint32(1); gop < 5; gop++ {
		publishGOP(r, gop*100, 10)
	}
	if _, err := c.Next(nil); !errors.Is(err, ErrTooSlow) {
		t.Fatalf("err %v, want ErrTooSlow", err)
	}
}

func TestCloseDeliversPendingThenEOF(t *testing.T) {
	r := NewRing(Config{})
	publishGOP(r, 0, 2)
	c := r.NewCursor(AllTracks)
	r.Close()
	bufs, err := c.Next(nil)
	if err != io.EOF || len(bufs) != 4 {
		t.Fatalf("got %d bufs, err %v; want 4 and EOF", len(bufs), err)
	}
}

func TestBatchIsBounded(t *testing.T) {
	r := NewRing(Config{})
	r.Append(key(0, "k"))
	for i := range 3 * maxBatch {
		r.Append(pkt(flv.TagVideo, uint32(i), "v"))
	}
	c := r.NewCursor(AllTracks)
	bufs, err := c.Next(nil)
	if err != nil || len(bufs) == 0 || len(bufs) > maxBatch+1 {
		t.Fatalf("first batch: %d bufs, err %v", len(bufs), err)
	}
	// The viewer is told to come back at once while a batch did not take
	// all that was due (Wait would wait for the next append).
	batches := 1
	for ; c.Behind(); batches++ {
		if bufs, err = c.Next(bufs[:0]); err != nil || len(bufs) == 0 || len(bufs) > maxBatch {
			t.Fatalf("batch %d: %d bufs, err %v", batches+1, len(bufs), err)
		}
	}
	if batches != 4 {
		t.Fatalf("%d packets due in %d batches, want 4 of at most %d", 3*maxBatch+1, batches, maxBatch)
	}
	if bufs, err = c.Next(bufs[:0]); err != nil || len(bufs) != 0 || c.Behind() {
		t.Fatalf("after the last batch: %d bufs, err %v, behind %v", len(bufs), err, c.Behind())
	}
}

// TestConcurrentViewersSeeTheSameSequence runs one publisher and many
// cursors under the race detector; every viewer must see the same packets.
func TestConcurrentViewersSeeTheSameSequence(t *testing.T) {
	r := NewRing(Config{})
	r.Append(config(flv.TagVideo, "avc"))
	r.Append(key(0, "k0"))
	const viewers, packets = 20, 2000
	results := make([][]string, viewers)
	var wg sync.WaitGroup
	for i := range viewers {
		c := r.NewCursor(AllTracks)
		wg.Go(func() {
			var bufs [][]byte
			for {
				var err error
				bufs, err = c.Next(bufs[:0])
				for _, b := range bufs {
					results[i] = append(results[i], string(b))
				}
				if err == io.EOF {
					return
				}
				if len(bufs) == 0 {
					c.Wait()
				}
			}
		})
	}
	for i := 1; i <= packets; i++ {
		r.Append(pkt(flv.TagVideo, uint32(i), fmt.Sprint(i)))
	}
	r.Close()
	wg.Wait()
	for i := range viewers {
		if len(results[i]) != packets+3 || results[i][len(results[i])-1] != fmt.Sprint(packets) {
			t.Fatalf("viewer %d got %d packets", i, len(results[i]))
		}
		if fmt.Sprint(results[i]) != fmt.Sprint(results[0]) {
			t.Fatalf("viewer %d saw a different sequence", i)
		}
	}
}

func TestStopEndsAWaitingCursor(t *testing.T) {
	r := NewRing(Config{})
	publishGOP(r, 0, 2)
	c := r.NewCursor(AllTracks)
	drain(t, c)
	done := make(chan struct{})
	go func() {
		c.Wait()
		close(done)
	}()
	c.Stop()
	<-done
	if _, err := c.Next(nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("after Stop: %v", err)
	}
}
