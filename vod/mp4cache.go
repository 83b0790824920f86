package vod

import (
	"container/list"
	"context"
	"sync"
)

// movieCache keeps the parsed moov boxes of recently served MP4 files, as
// indexCache keeps FLV indexes: bounded by the memory they hold, least
// recently used first out, each version of a file parsed once however many
// requests ask for it at the same time, and a bounded number of parses at
// once (each reads a moov of up to mp4.DefaultMaxMoovSize).
type movieCache struct {
	maxBytes int64
	builds   chan struct{}

	mu     sync.Mutex
	used   int64
	byKey  map[cacheKey]*movieEntry
	byPath map[string]*movieEntry // the newest version of each path
	lru    list.List              // of *movieEntry, most recent first
}

type movieEntry struct {
	key  cacheKey
	done chan struct{} // closed when m is set
	m    *movie
	elem *list.Element // nil while parsing or when not kept
}

func newMovieCache(maxBytes int64, builds int) *movieCache {
	return &movieCache{
		maxBytes: maxBytes,
		builds:   make(chan struct{}, builds),
		byKey:    make(map[cacheKey]*movieEntry),
		byPath:   make(map[string]*movieEntry),
	}
}

// get returns the movie for key, parsing it with build if no other request
// already is. A waiter whose ctx ends stops waiting; the request that
// parses does so whatever its ctx, for the others.
func (c *movieCache) get(ctx context.Context, key cacheKey, build func() *movie) (*movie, error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
		}
		c.mu.Unlock()
		select {
		case <-e.done:
			return e.m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &movieEntry{key: key, done: make(chan struct{})}
	c.byKey[key] = e
	if old, ok := c.byPath[key.path]; ok {
		c.removeLocked(old) // an older version of the file
	}
	c.byPath[key.path] = e
	c.mu.Unlock()

	c.builds <- struct{}{}
	e.m = build()
	<-c.builds

	c.mu.Lock()
	switch {
	case c.byKey[key] != e:
		// Replaced by a newer version while parsing.
	case e.m.cost > c.maxBytes:
		c.removeLocked(e) // larger than the whole cache: served, not kept
	default:
		e.elem = c.lru.PushFront(e)
		c.used += e.m.cost
		for c.used > c.maxBytes {
			c.removeLocked(c.lru.Back().Value.(*movieEntry))
		}
	}
	c.mu.Unlock()
	close(e.done)
	return e.m, nil
}

func (c *movieCache) removeLocked(e *movieEntry) {
	if c.byKey[e.key] == e {
		delete(c.byKey, e.key)
	}
	if c.byPath[e.key.path] == e {
		delete(c.byPath, e.key.path)
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
		c.used -= e.m.cost
	}
}
