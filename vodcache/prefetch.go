package vodcache

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// maxPrefetch bounds the paths of one prefetch request.
const maxPrefetch = 1000

// Prefetch loads the objects at paths in the background, a bounded
// number at once, so that their first viewers are hits. It refuses paths
// under no origin before starting any.
func (c *Cache) Prefetch(paths []string) error {
	if len(paths) == 0 || len(paths) > maxPrefetch {
		return fmt.Errorf("give between 1 and %d paths", maxPrefetch)
	}
	for _, p := range paths {
		if o := c.originOf(p); o == nil || len(p) > maxKeyLen || !cleanPath(p) {
			return fmt.Errorf("%q: not a clean path under a prefix with origins", p)
		}
	}
	c.mu.Lock()
	c.prefetching += len(paths)
	c.mu.Unlock()
	for _, p := range paths {
		c.wg.Go(func() {
			defer func() {
				c.mu.Lock()
				c.prefetching--
				c.mu.Unlock()
			}()
			select {
			case c.sem <- struct{}{}:
			case <-c.ctx.Done():
				return
			}
			defer func() { <-c.sem }()
			if err := c.load1(p); err != nil && !errors.Is(err, c.ctx.Err()) {
				c.bad.Warn("prefetch", "vodcache: prefetch failed", "path", p, "err", err)
			}
		})
	}
	return nil
}

// load1 reads every slice of the object at key into the cache.
func (c *Cache) load1(key string) error {
	f, err := c.Open(c.ctx, key)
	if err != nil {
		return err
	}
	f.prefetch = true
	defer f.Close()
	for off := int64(0); off < f.e.size; off += f.e.slice {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		if _, err := f.ensure(off / f.e.slice); err != nil {
			return err
		}
	}
	return nil
}

// cleanPath reports whether p is an absolute path of plain segments.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// Stats is the state of the cache, for the stats API and metrics.
type Stats struct {
	Entries     int           `json:"entries"`
	Bytes       int64         `json:"bytes"`
	MaxBytes    int64         `json:"max_bytes"`
	Prefetching int           `json:"prefetching"`
	Prefixes    []PrefixStats `json:"prefixes"`
}

// PrefixStats are the counts of one origin prefix since the start.
type PrefixStats struct {
	Prefix string `json:"prefix"`
	// Requests counts the viewers' requests by X-Cache-Status.
	Requests       map[string]uint64 `json:"requests"`
	ServedBytes    uint64            `json:"served_bytes"`
	FetchedBytes   uint64            `json:"fetched_bytes"`
	OriginRequests uint64            `json:"origin_requests"`
	OriginErrors   uint64            `json:"origin_errors"`
	Entries        int               `json:"entries"`
	Bytes          int64             `json:"bytes"`
}

// Stats returns the cache's state.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Entries: len(c.entries), Bytes: c.used, MaxBytes: c.maxBytes, Prefetching: c.prefetching}
	per := map[string]*PrefixStats{}
	for prefix, s := range c.stats {
		ps := &PrefixStats{Prefix: prefix, Requests: map[string]uint64{}, ServedBytes: s.served, FetchedBytes: s.fetched,
			OriginRequests: s.originRequests, OriginErrors: s.originErrors}
		for k, v := range s.statuses {
			ps.Requests[k] = v
		}
		per[prefix] = ps
	}
	for _, e := range c.entries {
		if ps := per[e.prefix]; ps != nil {
			ps.Entries++
			ps.Bytes += e.bytes
		}
	}
	for _, ps := range per {
		st.Prefixes = append(st.Prefixes, *ps)
	}
	sort.Slice(st.Prefixes, func(i, j int) bool { return st.Prefixes[i].Prefix < st.Prefixes[j].Prefix })
	return st
}
