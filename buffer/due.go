package buffer

import "time"

// Waiting for a tag no earlier than a given time (Cursor.WaitUntil): a
// viewer that merges its writes waits, after each, for the first tag
// appended some time later, instead of for the next tag and then by a
// timer of its own. Its wait then ends in the publisher's append, when the
// process is awake anyway, together with the other viewers due by then: a
// timer per viewer would wake the process at a moment of each viewer's
// own, and each wake-up of an idle process costs far more than the wait.
//
// The waiters are grouped by their time, rounded up to dueTick; an append
// wakes every group due. Should no tag come (a publisher that stalls
// right after the tags that wait), a group's timer wakes it dueSlack
// after its time.

const (
	dueTick  = 2 * time.Millisecond
	dueSlack = 50 * time.Millisecond
)

// dueGroup is the cursors waiting for a tag appended at or after tick.
type dueGroup struct {
	tick  int64         // dueTicks since dueEpoch
	woken chan struct{} // closed when the group is woken
	timer *time.Timer
}

// dueEpoch anchors the monotonic clock of the due ticks.
var dueEpoch = time.Now()

func dueTickOf(t time.Time) int64 {
	d := t.Sub(dueEpoch)
	return int64((d + dueTick - 1) / dueTick)
}

func dueTime(tick int64) time.Time { return dueEpoch.Add(time.Duration(tick) * dueTick) }

// WaitUntil blocks until a packet is appended at or after at (by this
// process's clock) and the ring has changed since the last Next, the ring
// is closed, or the cursor is stopped; if no packet comes, until a little
// after at. An at already past makes it Wait.
func (c *Cursor) WaitUntil(at time.Time) {
	tick := dueTickOf(at)
	if !dueTime(tick).After(time.Now()) {
		c.Wait()
		return
	}
	r := c.r
	r.mu.Lock()
	if r.closed || c.stopped {
		r.mu.Unlock()
		return
	}
	g := r.due[tick]
	if g == nil {
		if r.due == nil {
			r.due = make(map[int64]*dueGroup)
		}
		g = &dueGroup{tick: tick, woken: make(chan struct{})}
		g.timer = time.AfterFunc(time.Until(dueTime(tick))+dueSlack, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.wake(g)
		})
		r.due[tick] = g
	}
	c.due = g
	r.mu.Unlock()
	<-g.woken
}

// wake wakes g, unless it was woken already. The ring's lock is held.
func (r *Ring) wake(g *dueGroup) {
	if r.due[g.tick] != g {
		return
	}
	delete(r.due, g.tick)
	g.timer.Stop()
	close(g.woken)
}

// wakeDue wakes the groups due at now, or all of them; the ring's lock is
// held.
func (r *Ring) wakeDue(now time.Time, all bool) {
	for _, g := range r.due {
		if all || !dueTime(g.tick).After(now) {
			r.wake(g)
		}
	}
}
