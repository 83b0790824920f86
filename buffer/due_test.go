package buffer

import (
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// waitingUntil starts c.WaitUntil(at) and returns once the cursor is in
// its group, with a channel closed when the wait returns.
func waitingUntil(t *testing.T, c *Cursor, at time.Time) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.WaitUntil(at)
	}()
	r := c.r
	deadline := time.Now().Add(time.Minute) // generous: an event, not a timing
	for {
		r.mu.Lock()
		g := c.due
		r.mu.Unlock()
		if g != nil {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatal("WaitUntil did not start waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// caughtUpCursor is a cursor that has taken all there is of a stream.
func caughtUpCursor(t *testing.T) (*Ring, *Cursor) {
	r := NewRing(Config{})
	t.Cleanup(r.Close)
	publishGOP(r, 0, 2)
	c := r.NewCursor(AllTracks)
	drain(t, c)
	return r, c
}

func dueGroups(r *Ring) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.due)
}

func returned(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// TestWaitUntilEndsWithTheFirstAppendDue: appends before the time leave
// the cursor waiting, with its tags; the first append at or after it ends
// the wait, in the append, not by a timer.
func TestWaitUntilEndsWithTheFirstAppendDue(t *testing.T) {
	r, c := caughtUpCursor(t)
	at := time.Now().Add(time.Hour) // no timer of the test's time ends it
	done := waitingUntil(t, c, at)
	r.Append(pkt(flv.TagAudio, 100, "early"))
	if returned(done) {
		t.Fatal("an append before the time ended the wait")
	}
	// An append an hour later, as the ring's clock reads it then (the
	// time rounded up to the groups' tick).
	r.mu.Lock()
	r.wakeDue(at.Add(dueTick), false)
	r.mu.Unlock()
	<-done
	if got := drain(t, c); len(got) != 1 || got[0] != "early" {
		t.Fatalf("after the wait: %q, want the tag appended meanwhile", got)
	}
	if n := dueGroups(r); n != 0 {
		t.Fatalf("%d groups left waiting", n)
	}
}

// TestWaitUntilEndsWithoutAnAppend: a publisher that stalls does not keep
// the tags that came before the time: the group's timer ends the wait.
func TestWaitUntilEndsWithoutAnAppend(t *testing.T) {
	_, c := caughtUpCursor(t)
	done := waitingUntil(t, c, time.Now().Add(10*time.Millisecond))
	select {
	case <-done:
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("the wait did not end without an append")
	}
}

// TestWaitUntilEndsOnStopAndClose: a waiting viewer that is stopped, or
// whose stream ends, does not wait for its time.
func TestWaitUntilEndsOnStopAndClose(t *testing.T) {
	r := NewRing(Config{})
	publishGOP(r, 0, 2)
	stopped, other := r.NewCursor(AllTracks), r.NewCursor(AllTracks)
	drain(t, stopped)
	drain(t, other)
	at := time.Now().Add(time.Hour)
	done := waitingUntil(t, stopped, at)
	otherDone := waitingUntil(t, other, at.Add(time.Minute))
	stopped.Stop()
	<-done
	if returned(otherDone) {
		t.Fatal("a cursor's Stop ended another group's wait")
	}
	r.Close()
	<-otherDone
	if n := dueGroups(r); n != 0 {
		t.Fatalf("%d groups left waiting after Close", n)
	}
	// Once stopped or closed, WaitUntil does not wait.
	stopped.WaitUntil(time.Now().Add(time.Hour))
	other.WaitUntil(time.Now().Add(time.Hour))
}

// TestAppendWakesTheGroupsDue: an append after a group's time wakes it
// itself, before the group's timer would.
func TestAppendWakesTheGroupsDue(t *testing.T) {
	r, c := caughtUpCursor(t)
	at := time.Now().Add(dueTick)
	done := waitingUntil(t, c, at)
	for due := dueTime(dueTickOf(at)); !time.Now().After(due); {
		time.Sleep(dueTick) // the clock passing the time, not a synchronisation
	}
	r.Append(pkt(flv.TagAudio, 100, "due"))
	if n := dueGroups(r); n != 0 {
		t.Fatalf("%d groups waiting after an append past their time", n)
	}
	<-done
	if got := drain(t, c); len(got) != 1 || got[0] != "due" {
		t.Fatalf("after the wait: %q", got)
	}
}
