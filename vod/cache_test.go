package vod

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// len returns the number of indexes kept, for tests.
func (c *fileCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// waiting reports whether key is known (built or being built), for tests.
func (c *fileCache[V]) waiting(key cacheKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[key] != nil
}

// TestCacheBuildsOnceForConcurrentRequests: many requests for the same
// new file share one build.
//
// synctest.Wait, not a sleep, knows when every request waits: each is then
// blocked, the first in the build and the others on its result.
func TestCacheBuildsOnceForConcurrentRequests(t *testing.T) {
	synctest.Test(t, testCacheBuildsOnce)
}

func testCacheBuildsOnce(t *testing.T) {
	c := newIndexCache(1<<20, 2)
	var builds atomic.Int32
	release := make(chan struct{})
	build := func() (*fileIndex, error) {
		builds.Add(1)
		<-release
		return &fileIndex{cost: 100}, nil
	}
	key := cacheKey{path: "/a.flv", size: 10, mtime: 1}
	var wg sync.WaitGroup
	results := make([]*fileIndex, 50)
	for i := range results {
		wg.Go(func() {
			ix, err := c.get(context.Background(), key, build)
			if err != nil {
				t.Error(err)
			}
			results[i] = ix
		})
	}
	synctest.Wait()
	close(release)
	wg.Wait()
	if builds.Load() != 1 {
		t.Fatalf("%d builds", builds.Load())
	}
	for _, ix := range results {
		if ix != results[0] {
			t.Fatal("requests got different indexes")
		}
	}
}

// TestCacheWaiterLeavesWithItsRequest: a request that goes away stops
// waiting for another's build.
func TestCacheWaiterLeavesWithItsRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newIndexCache(1<<20, 2)
		release := make(chan struct{})
		key := cacheKey{path: "/a.flv"}
		go c.get(context.Background(), key, func() (*fileIndex, error) { <-release; return &fileIndex{}, nil })
		synctest.Wait() // the build has started and waits
		if !c.waiting(key) {
			t.Fatal("no build under way")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.get(ctx, key, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		close(release)
	})
}

// TestCacheReadyValueServesALeavingRequest: a value that is ready is
// returned even to a request whose context has ended (select would pick
// either at random), so that a client leaving at the last moment is not
// reported as a failure to build.
func TestCacheReadyValueServesALeavingRequest(t *testing.T) {
	c := newIndexCache(1<<20, 2)
	key := cacheKey{path: "/a.flv"}
	want := &fileIndex{}
	if _, err := c.get(context.Background(), key, func() (*fileIndex, error) { return want, nil }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 200 {
		if ix, err := c.get(ctx, key, nil); err != nil || ix != want {
			t.Fatalf("got %v, %v; want the ready index", ix, err)
		}
	}
}

// TestCacheBoundsAndVersions: entries are dropped least recently used
// first past the byte bound; a new version of a file replaces the old;
// errors are kept like indexes.
func TestCacheBoundsAndVersions(t *testing.T) {
	c := newIndexCache(1000, 1)
	builds := 0
	get := func(path string, mtime int64, cost int64, err error) (*fileIndex, error) {
		return c.get(context.Background(), cacheKey{path: path, mtime: mtime}, func() (*fileIndex, error) {
			builds++
			if err != nil {
				return nil, err
			}
			return &fileIndex{cost: cost}, nil
		})
	}
	get("/a", 1, 200, nil)
	get("/b", 1, 200, nil)
	get("/a", 1, 200, nil) // a is now the most recent
	if builds != 2 || c.len() != 2 {
		t.Fatalf("%d builds, %d kept", builds, c.len())
	}
	get("/c", 1, 200, nil) // 3 × (200 + 256) > 1000: b goes
	get("/a", 1, 200, nil)
	if builds != 3 || c.len() != 2 {
		t.Fatalf("after c: %d builds, %d kept", builds, c.len())
	}
	get("/b", 1, 200, nil)
	if builds != 4 {
		t.Fatalf("b was not dropped: %d builds", builds)
	}
	get("/a", 2, 200, nil) // a new version
	get("/a", 1, 200, nil) // the old one was dropped with it
	if builds != 6 {
		t.Fatalf("versions: %d builds", builds)
	}
	bad := errors.New("not FLV")
	for range 2 {
		if _, err := get("/bad", 1, 0, bad); err != bad {
			t.Fatalf("error %v", err)
		}
	}
	if builds != 7 {
		t.Fatalf("error not kept: %d builds", builds)
	}
	get("/huge", 1, 5000, nil)
	get("/huge", 1, 5000, nil)
	if builds != 9 {
		t.Fatalf("an index larger than the cache was kept: %d builds", builds)
	}
}
