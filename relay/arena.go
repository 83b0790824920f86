package relay

// arena hands out the buffers of encoded tags from shared chunks: one
// allocation per chunk instead of one per tag, which keeps the publish path
// free of per-tag allocations and gives the garbage collector fewer, larger
// objects. A chunk is freed once the window and every viewer have let go of
// all its tags; the window drops tags in order, so chunks age out in order.
//
// A chunk holds about arenaTagsPerChunk tags of the stream's mean size, from
// arenaMinChunk to arenaMaxChunk: a 2 Mbit/s stream fills 64 KiB chunks, a
// 200 kbit/s one 8–16 KiB ones, so that the chunk being filled and the
// oldest one, partly dropped already, stay small beside a short window (a
// stream nobody watches keeps only its latest keyframe's group).
type arena struct {
	chunk []byte
	mean  int // mean tag size, smoothed over about 16 tags
}

const (
	arenaTagsPerChunk = 32
	arenaMinChunk     = 4 << 10
	arenaMaxChunk     = 64 << 10
)

// alloc returns an empty slice with capacity n, to append one tag into.
func (a *arena) alloc(n int) []byte {
	a.mean += (n - a.mean) / 16
	size := min(max(arenaTagsPerChunk*a.mean, arenaMinChunk), arenaMaxChunk)
	// Tags above a quarter of a chunk (keyframes) get a buffer of their own,
	// so that a chunk's unused tail stays small.
	if n > size/4 {
		return make([]byte, 0, n)
	}
	if cap(a.chunk)-len(a.chunk) < n {
		a.chunk = make([]byte, 0, size)
	}
	start := len(a.chunk)
	a.chunk = a.chunk[:start+n]
	// The capacity ends at n so that appending to one tag can never run
	// into the next.
	return a.chunk[start : start : start+n]
}
