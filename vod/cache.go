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

// indexCache keeps the indexes of recently served files, bounded by the
// memory they hold, least recently used first out. A file's index is
// built once however many requests ask for it at the same time, and the
// number of builds running at once is bounded.
type indexCache struct {
	maxBytes int64
	builds   chan struct{} // a slot per build allowed to run

	mu     sync.Mutex
	used   int64
	byKey  map[cacheKey]*cacheEntry
	byPath map[string]*cacheEntry // the newest version of each path
	lru    list.List              // of *cacheEntry, most recent first
}

type cacheEntry struct {
	key  cacheKey
	done chan struct{} // closed when ix and err are set
	ix   *fileIndex
	err  error
	cost int64
	elem *list.Element // nil while building or when not kept
}

func newIndexCache(maxBytes int64, builds int) *indexCache {
	return &indexCache{
		maxBytes: maxBytes,
		builds:   make(chan struct{}, builds),
		byKey:    make(map[cacheKey]*cacheEntry),
		byPath:   make(map[string]*cacheEntry),
	}
}

// get returns the index for key, building it with build if no other
// request already is. A waiter whose ctx ends stops waiting. The request
// that builds does so whatever its ctx: the others wait for the result, and
// a build is one bounded pass over a file. Errors are cached like indexes:
// a file that is not FLV stays so until it changes.
func (c *indexCache) get(ctx context.Context, key cacheKey, build func() (*fileIndex, error)) (*fileIndex, error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
		}
		c.mu.Unlock()
		select {
		case <-e.done:
			return e.ix, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &cacheEntry{key: key, done: make(chan struct{})}
	c.byKey[key] = e
	if old, ok := c.byPath[key.path]; ok {
		c.removeLocked(old) // an older version of the file
	}
	c.byPath[key.path] = e
	c.mu.Unlock()

	c.builds <- struct{}{}
	e.ix, e.err = build()
	<-c.builds
	e.cost = 256
	if e.ix != nil {
		e.cost += e.ix.cost
	}

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
			c.removeLocked(c.lru.Back().Value.(*cacheEntry))
		}
	}
	c.mu.Unlock()
	close(e.done)
	return e.ix, e.err
}

func (c *indexCache) removeLocked(e *cacheEntry) {
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
