package buffer

import (
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/flvedge/flvedge/flv"
)

// Config bounds a stream's window. The window always reaches back to the
// latest keyframe, so that a new viewer starts with a picture; beyond that it
// keeps older tags for viewers that lag, up to MaxDuration, while it has
// viewers: a new viewer never starts before the latest keyframe, so a stream
// nobody watches keeps only what the next viewer needs. MaxBytes is a hard
// bound that wins over all, so a publisher that never sends a keyframe
// cannot grow it without limit.
type Config struct {
	MaxDuration time.Duration // default 10 s
	MaxBytes    int           // default 64 MiB
	// DropSlow ends a viewer that falls out of the window instead of
	// moving it to the newest keyframe.
	DropSlow bool
	// Budget, if set, bounds this window together with the other rings'
	// that share it.
	Budget *Budget
}

const (
	defaultMaxDuration = 10 * time.Second
	defaultMaxBytes    = 64 << 20
	// maxPackets bounds the ring's slot count, so that a flood of tiny tags
	// costs bounded bookkeeping even within MaxBytes.
	maxPackets = 1 << 17
	// maxBatch bounds how many tags one Next hands out, which bounds a
	// viewer's vectored write (the kernel takes at most 1024 iovecs).
	maxBatch = 512
)

// ErrTooSlow ends a viewer that fell out of the window when Config.DropSlow is set.
var ErrTooSlow = errors.New("buffer: viewer fell out of the window")

// Ring is one stream's window of packets. One publisher appends; any number
// of Cursors read. Appending wakes all waiting cursors with one broadcast,
// which allocates nothing.
type Ring struct {
	cfg Config

	mu      sync.Mutex
	slots   []Packet // circular; len is a power of two; seq lives at slots[seq&mask]
	first   uint64   // sequence number of the oldest packet
	next    uint64   // sequence number the next packet gets
	bytes   int
	keySeq  uint64 // latest keyframe, meaningful if hasKey
	hasKey  bool
	barrier uint64 // one past the latest audio/video config: a start point must not precede it
	config  [3]Packet
	seen    Tracks
	changed sync.Cond           // broadcast on every append, on Close and on a cursor's Stop
	due     map[int64]*dueGroup // cursors waiting for a later append (WaitUntil), by tick
	closed  bool
	skips   uint64 // cursors moved to the newest keyframe, all together
	cursors int    // open cursors: the window keeps older tags for them
}

// configIndex maps a tag type to its slot in Ring.config: script data
// (onMetaData) first, then one per track.
func configIndex(tagType uint8) int {
	return int(flv.TrackOf(tagType)) + 1
}

// NewRing returns an empty window bounded by cfg; zero fields take defaults.
func NewRing(cfg Config) *Ring {
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = defaultMaxDuration
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultMaxBytes
	}
	r := &Ring{cfg: cfg, slots: make([]Packet, 64)}
	r.changed.L = &r.mu
	if cfg.Budget != nil {
		cfg.Budget.rings.Add(1)
	}
	return r
}

// Append adds p at the live edge and wakes the cursors. p.Bytes must not be
// modified afterwards. Appending to a closed ring does nothing.
func (r *Ring) Append(p Packet) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if r.next-r.first == uint64(len(r.slots)) {
		r.grow()
	}
	r.slots[r.next&r.mask()] = p
	r.bytes += p.size()
	r.cfg.Budget.add(p.size())
	r.seen |= trackOf(p.Type)
	if p.Config {
		r.config[configIndex(p.Type)] = p
		if p.Type != flv.TagScript {
			r.barrier = r.next + 1
		}
	}
	if p.Keyframe {
		r.keySeq, r.hasKey = r.next, true
	}
	r.next++
	r.trim()
	if len(r.due) > 0 {
		r.wakeDue(time.Now(), false)
	}
	r.mu.Unlock()
	// Woken after the unlock, the cursors do not find the lock still
	// held by the broadcast that readies the rest of them.
	r.changed.Broadcast()
}

// Close ends the stream: cursors deliver what is pending, then io.EOF. Its
// bytes no longer count against the Budget: the cursors let go of them in
// a moment.
func (r *Ring) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && r.cfg.Budget != nil {
		r.cfg.Budget.add(-r.bytes)
		r.cfg.Budget.rings.Add(-1)
	}
	r.closed = true
	r.wakeDue(time.Time{}, true)
	r.changed.Broadcast()
}

// Bytes is the window's current size, its slots included (see slotCost),
// for metrics and tests.
func (r *Ring) Bytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// Cursors is how many cursors are open: the ring's viewers.
func (r *Ring) Cursors() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cursors
}

// Skips counts how often a cursor of this ring fell out of the window and
// was moved to the newest keyframe.
func (r *Ring) Skips() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skips
}

// Len is the number of packets in the window.
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int(r.next - r.first)
}

func (r *Ring) mask() uint64 { return uint64(len(r.slots) - 1) }

func (r *Ring) grow() {
	bigger := make([]Packet, 2*len(r.slots))
	newMask := uint64(len(bigger) - 1)
	for seq := r.first; seq < r.next; seq++ {
		bigger[seq&newMask] = r.slots[seq&r.mask()]
	}
	r.slots = bigger
}

// trim drops the oldest packets while the window is over its bounds. Bytes
// and slots count always. Packets before the point where a new viewer would
// start are kept only for open cursors that may still need them, and only
// for MaxDuration. While the Budget is over, the window keeps no more than
// from its latest keyframe, and no more than its share of the Budget even
// of that (the newest packet stays).
func (r *Ring) trim() {
	for r.first < r.next {
		oldest := &r.slots[r.first&r.mask()]
		over := r.bytes > r.cfg.MaxBytes || r.next-r.first > maxPackets
		if keep, ok := r.newest(); !over && ok && r.first < keep {
			newest := r.slots[(r.next-1)&r.mask()].Timestamp
			over = r.cursors == 0 || time.Duration(newest-oldest.Timestamp)*time.Millisecond > r.cfg.MaxDuration
		}
		if !over && r.first+1 < r.next && r.cfg.Budget.Full() {
			over = r.hasKey && r.first < r.keySeq || int64(r.bytes) > r.cfg.Budget.share()
		}
		if !over {
			return
		}
		r.bytes -= oldest.size()
		r.cfg.Budget.add(-oldest.size())
		*oldest = Packet{} // let the bytes go
		r.first++
		if r.hasKey && r.keySeq < r.first {
			r.hasKey = false
		}
	}
}

// newest is the latest point where a viewer may start: the latest keyframe,
// or the live edge of a stream without video. Unlike startPoint it ignores
// codec changes, so that a publisher's new sequence header does not make
// the window keep its tags until the next keyframe.
func (r *Ring) newest() (uint64, bool) {
	switch {
	case r.hasKey:
		return r.keySeq, true
	case !r.seen.Has(TrackVideo) && r.seen != 0:
		return r.next, true
	}
	return 0, false
}

// startPoint is where a new viewer, or one that fell behind, begins: the
// latest keyframe after the latest codec change; for a stream without video,
// the live edge.
func (r *Ring) startPoint() (uint64, bool) {
	if r.hasKey && r.keySeq >= r.barrier {
		return r.keySeq, true
	}
	if !r.seen.Has(TrackVideo) && r.seen != 0 {
		return r.next, true
	}
	return 0, false
}

// slotCost is what a packet holds beside its bytes: its slot in the ring.
// It counts toward the window's size, so that a flood of tiny tags (a
// publisher's one-byte audio messages take two bytes on the wire) cannot
// make a window, or all of them under the Budget, hold several times what
// they account for.
const slotCost = int(unsafe.Sizeof(Packet{}))

// size is what p costs the window: its bytes and its slot.
func (p *Packet) size() int {
	n := slotCost + len(p.Bytes)
	if p.ByTracks != nil {
		for _, b := range p.ByTracks {
			n += len(b)
		}
	}
	return n
}
