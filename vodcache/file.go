package vodcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// File is one request's view of a cached object. It reads through the
// cache, fetching the slices that are missing; it is not safe for
// concurrent use (one request, one File), while any number of Files of
// one object share its slices.
type File struct {
	c        *Cache
	e        *entry
	data     *os.File // the object's data file, this File's own descriptor
	status   string
	served   int64
	prefetch bool // not a viewer's: not counted
}

// Size is the object's size.
func (f *File) Size() int64 { return f.e.size }

// ETag is the origin's ETag of the object, "" when it sent none.
func (f *File) ETag() string { return f.e.etag }

// ModTime is the origin's Last-Modified, zero when it sent none.
func (f *File) ModTime() time.Time {
	t, err := http.ParseTime(f.e.lastMod)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Status is what X-Cache-Status says of the request so far.
func (f *File) Status() string { return f.status }

// ReadAt reads through the cache.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("vodcache: negative offset")
	}
	if off >= f.e.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), f.e.size)
	if err := f.ensureRange(off, end); err != nil {
		return 0, err
	}
	n, err := f.data.ReadAt(p[:end-off], off)
	f.served += int64(n)
	if err == nil && end-off < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// Section makes the bytes [off, off+n) present and returns the data file
// that holds them at those offsets, for sendfile. The file stays this
// File's: the caller may seek it, not close it.
func (f *File) Section(off, n int64) (*os.File, error) {
	if off < 0 || n < 0 || off+n > f.e.size {
		return nil, fmt.Errorf("vodcache: section %d+%d of a %d-byte object", off, n, f.e.size)
	}
	if err := f.ensureRange(off, off+n); err != nil {
		return nil, err
	}
	f.served += n
	return f.data, nil
}

// Ensure makes the slice that holds off present, before the answer's
// header goes out: a slice the origin had to give makes the request a
// MISS, and an origin that fails it an error the viewer can still get
// as a status.
func (f *File) Ensure(off int64) error {
	if off < 0 || off >= f.e.size {
		return nil
	}
	fetched, err := f.ensure(off / f.e.slice)
	if fetched && f.status == Hit {
		f.status = Miss
	}
	return err
}

func (f *File) ensureRange(off, end int64) error {
	for i := off / f.e.slice; i*f.e.slice < end; i++ {
		if _, err := f.ensure(i); err != nil {
			return err
		}
	}
	return nil
}

// ensure makes slice i present: at once when it is, else by waiting for
// the fetch of it under way, else by fetching it.
func (f *File) ensure(i int64) (fetched bool, err error) {
	c, e := f.c, f.e
	retried := false
	for {
		c.mu.Lock()
		if e.has(i) {
			c.mu.Unlock()
			return fetched, nil
		}
		if fl := e.fills[i]; fl != nil {
			c.mu.Unlock()
			<-fl.done // bounded by the origin timeouts
			if fl.err != nil {
				// Another reader's fetch failed: try once on our own (the
				// crowd collapses again on the first to try), unless the
				// object is gone.
				if retried || errors.Is(fl.err, errChanged) {
					return fetched, fl.err
				}
				retried = true
			}
			continue
		}
		fl := &flight{done: make(chan struct{})}
		if e.fills == nil {
			e.fills = make(map[int64]*flight)
		}
		e.fills[i] = fl
		c.mu.Unlock()

		fl.err = c.fill(f, i)
		fetched = true
		c.mu.Lock()
		delete(e.fills, i)
		if fl.err == nil && e.elem != nil {
			c.lru.MoveToFront(e.elem)
			c.evictLocked(e)
		}
		c.mu.Unlock()
		close(fl.done)
		if fl.err != nil {
			return fetched, fl.err
		}
		c.writeMeta(e)
	}
}

var errChanged = errors.New("the object changed at the origin while being cached")

// fill fetches slice i of f's object into f's data file.
func (c *Cache) fill(f *File, i int64) error {
	e := f.e
	o := c.originOf(e.key)
	if o == nil {
		return &StatusError{Status: http.StatusBadGateway, Err: errors.New("no origin for " + e.key + " any more")}
	}
	first := i * e.slice
	last := first + e.sliceLen(i) - 1
	ctx, cancel := context.WithTimeout(context.Background(), 2*c.respWait)
	defer cancel()
	resp, err := c.fetch(ctx, o, e.key, http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", first, last)}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
	default:
		if resp.StatusCode >= 400 {
			c.drop(e)
		}
		status := resp.StatusCode
		if status < 400 {
			status = http.StatusBadGateway // a 304 or other 2xx to a plain Range request
		}
		return &StatusError{Status: status}
	}
	gotFirst, gotLast, size, err := responseRange(resp)
	if err != nil {
		return &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("%s: slice %d: %w", e.key, i, err)}
	}
	if size != e.size || e.etag != "" && resp.Header.Get("Etag") != e.etag || e.lastMod != "" && resp.Header.Get("Last-Modified") != e.lastMod {
		// Never mix slices of two versions: the next request starts over.
		c.drop(e)
		c.logger.Warn("vodcache: object changed at the origin while being filled, dropped", "key", e.key)
		return &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("%s: %w", e.key, errChanged)}
	}
	if resp.StatusCode == http.StatusPartialContent && (gotFirst != first || gotLast != last) {
		return &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("%s: asked bytes %d-%d, got %d-%d", e.key, first, last, gotFirst, gotLast)}
	}
	return c.store(ctx, f, resp, gotFirst, gotLast)
}

// Close ends the request's use of the object.
func (f *File) Close() error {
	if !f.prefetch {
		f.c.mu.Lock()
		s := f.c.statsLocked(f.e.prefix)
		s.statuses[f.status]++
		s.served += uint64(f.served)
		f.c.mu.Unlock()
	}
	return f.data.Close()
}
