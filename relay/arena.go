package relay

// arena hands out the buffers of encoded tags from shared chunks: one
// allocation per chunk instead of one per tag, which keeps the publish path
// free of per-tag allocations and gives the garbage collector fewer, larger
// objects. A chunk is freed once the window and every viewer have let go of
// all its tags; the window drops tags in order, so chunks age out in order.
type arena struct{ chunk []byte }

const (
	arenaChunk = 64 << 10
	// Tags above this size (keyframes) get a buffer of their own, so that a
	// chunk's unused tail stays small.
	arenaMaxShared = arenaChunk / 4
)

// alloc returns an empty slice with capacity n, to append one tag into.
func (a *arena) alloc(n int) []byte {
	if n > arenaMaxShared {
		return make([]byte, 0, n)
	}
	if cap(a.chunk)-len(a.chunk) < n {
		a.chunk = make([]byte, 0, arenaChunk)
	}
	start := len(a.chunk)
	a.chunk = a.chunk[:start+n]
	// The capacity ends at n so that appending to one tag can never run
	// into the next.
	return a.chunk[start : start : start+n]
}
