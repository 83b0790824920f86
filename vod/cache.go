package vod

import (
	"container/list"
	"context"
	"sync"
)

// cacheKey names one version of a stored file: a file rewritten in place
// gets a new size or modification time, so a new index.
type cacheKey struct {
	path  string
	size  int64
	mtime int64 // UnixNano
}

// fileCache keeps what was worked out from recently served files (FLV
// keyframe indexes, parsed MP4 moov boxes), bounded by the memory it holds,
// least recently used first out. A file version's value is built once
// however many requests ask for it at the same time, and the number of
// builds running at once is bounded.
type fileCache[V any] struct {
	maxBytes int64
	builds   chan struct{} // a slot per build allowed to run
	cost     func(V) int64 // bytes a value holds
	mu       sync.Mutex
	used     int64
	byKey    map[cacheKey]*cacheEntry[V]
	byPath   map[string]*cacheEntry[V] // the newest version of each path
	lru      list.List                 // of *cacheEntry[V], most recent first
}

type cacheEntry[V any] struct {
	key  cacheKey
	done chan struct{} // closed when v and err are set
	v    V
	err  error
	cost int64
	elem *list.Element // nil while building or when not kept
}

// indexCache keeps FLV keyframe indexes.
type indexCache = fileCache[*fileIndex]

func newIndexCache(maxBytes int64, builds int) *indexCache {
	return newFileCache(maxBytes, builds, func(ix *fileIndex) int64 {
		if ix == nil {
			return 256 // a cached error
		}
		return 256 + ix.cost
	})
}

// movieCache keeps parsed MP4 files (and what Keep keeps: Smooth Streaming
// plans); each
// parse reads a moov of up to mp4.DefaultMaxMoovSize.
type movieCache = fileCache[*movie]

func newMovieCache(maxBytes int64, builds int) *movieCache {
	return newFileCache(maxBytes, builds, func(m *movie) int64 { return m.cost })
}

func newFileCache[V any](maxBytes int64, builds int, cost func(V) int64) *fileCache[V] {
	return &fileCache[V]{
		maxBytes: maxBytes,
		builds:   make(chan struct{}, builds),
		cost:     cost,
		byKey:    make(map[cacheKey]*cacheEntry[V]),
		byPath:   make(map[string]*cacheEntry[V]),
	}
}

// get returns the value for key, building it with build if no other
// request already is. A waiter whose ctx ends stops waiting. The request
// that builds does so whatever its ctx: the others wait for the result, and
// a build is one bounded pass over a file. Errors are cached like values:
// a file that is not FLV stays so until it changes.
func (c *fileCache[V]) get(ctx context.Context, key cacheKey, build func() (V, error)) (V, error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
		}
		c.mu.Unlock()
		select {
		case <-e.done:
			return e.v, e.err
		case <-ctx.Done():
			// select picks at random among ready cases: a value that is
			// ready serves even a request whose client just left.
			select {
			case <-e.done:
				return e.v, e.err
			default:
			}
			var zero V
			return zero, ctx.Err()
		}
	}
	e := &cacheEntry[V]{key: key, done: make(chan struct{})}
	c.byKey[key] = e
	if old, ok := c.byPath[key.path]; ok {
		c.removeLocked(old) // an older version of the file
	}
	c.byPath[key.path] = e
	c.mu.Unlock()

	c.builds <- struct{}{}
	e.v, e.err = build()
	<-c.builds
	e.cost = c.cost(e.v)

	c.mu.Lock()
	switch {
	case c.byKey[key] != e:
		// Replaced by a newer version while building.
	case e.cost > c.maxBytes:
		// Larger than the whole cache: served, not kept.
		c.removeLocked(e)
	default:
		e.elem = c.lru.PushFront(e)
		c.used += e.cost
		for c.used > c.maxBytes {
			c.removeLocked(c.lru.Back().Value.(*cacheEntry[V]))
		}
	}
	c.mu.Unlock()
	close(e.done)
	return e.v, e.err
}

func (c *fileCache[V]) removeLocked(e *cacheEntry[V]) {
	if c.byKey[e.key] == e {
		delete(c.byKey, e.key)
	}
	if c.byPath[e.key.path] == e {
		delete(c.byPath, e.key.path)
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
		c.used -= e.cost
	}
}
