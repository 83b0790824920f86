package vodcache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/ratelog"
)

// Statuses of a response, as X-Cache-Status names them.
const (
	Hit         = "HIT"         // served from the cache
	Miss        = "MISS"        // some of it fetched from the origin
	Expired     = "EXPIRED"     // expired, and the origin had a new version
	Revalidated = "REVALIDATED" // expired, and the origin said it had not changed
	Stale       = "STALE"       // expired, the origin failing: served as it was
	Bypass      = "BYPASS"      // not from the cache: the origin forbids storing it
)

// Config is the cache's settings.
type Config struct {
	// Dir holds the data and meta files; it is created if missing.
	Dir string
	// MaxBytes bounds the disk the objects take.
	MaxBytes int64
	// SliceSize is the size of one origin fetch. Default 1 MiB.
	SliceSize int64
	Origins   []Origin
	// DefaultLifetime is the freshness of an answer that says nothing of
	// it. Default 1h.
	DefaultLifetime time.Duration
	// StaleIfError serves an expired object that long after its expiry
	// when the origins fail. 0: never.
	StaleIfError time.Duration
	// ConnectTimeout bounds a connection to an origin, ResponseTimeout
	// the wait for its answer and then for each read of its body.
	// Defaults 5 s and 15 s.
	ConnectTimeout  time.Duration
	ResponseTimeout time.Duration
	// Prefetchers bounds the files prefetched at once. Default 4.
	Prefetchers int
	Logger      *slog.Logger
}

const (
	DefaultSliceSize       = 1 << 20
	DefaultLifetime        = time.Hour
	DefaultConnectTimeout  = 5 * time.Second
	DefaultResponseTimeout = 15 * time.Second
	DefaultPrefetchers     = 4
	minSlice               = 64 << 10
	maxSlice               = 64 << 20
	// blockSize rounds the disk use counted for each slice and meta
	// file, so that the bound holds for what the file system takes.
	blockSize = 4096
)

// CheckConfig reports what keeps cfg from working, without touching the
// disk.
func CheckConfig(cfg Config) error {
	if err := CheckDir(cfg.Dir); err != nil {
		return err
	}
	if err := CheckSliceSize(cfg.SliceSize); err != nil {
		return err
	}
	if err := CheckMaxBytes(cfg.MaxBytes, cfg.SliceSize); err != nil {
		return err
	}
	if cfg.DefaultLifetime < 0 || cfg.StaleIfError < 0 || cfg.ConnectTimeout < 0 || cfg.ResponseTimeout < 0 || cfg.Prefetchers < 0 {
		return errors.New("lifetimes, timeouts and prefetchers must not be negative")
	}
	seen := map[string]bool{}
	for _, o := range cfg.Origins {
		if err := CheckOrigin(o); err != nil {
			return err
		}
		if seen[o.Prefix] {
			return fmt.Errorf("prefix %s given twice", o.Prefix)
		}
		seen[o.Prefix] = true
	}
	return nil
}

// orDefault is v, or def when v is zero.
func orDefault[T int64 | int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Cache is the slice cache. It is safe for concurrent use.
type Cache struct {
	dir      string
	maxBytes int64
	slice    int64
	lifetime time.Duration
	stale    time.Duration
	respWait time.Duration
	client   *http.Client
	logger   *slog.Logger
	bad      *ratelog.Logger
	origins  atomic.Pointer[[]origin] // longest prefix first

	ctx    context.Context // ends at Close: prefetches stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{} // a slot per prefetch running

	mu          sync.Mutex
	entries     map[string]*entry
	lru         list.List // of *entry, most recent first
	used        int64
	opens       map[string]*openFlight
	stats       map[string]*prefixStats
	prefetching int
	version     uint64 // names each object version's files apart
}

type prefixStats struct {
	statuses       map[string]uint64
	served         uint64 // bytes read from the cache by viewers
	fetched        uint64 // bytes received from origins
	originRequests uint64
	originErrors   uint64
}

// entry is one version of a cached object.
type entry struct {
	key     string
	prefix  string
	path    string // of the data file; the meta file is path+".meta"
	size    int64
	slice   int64
	etag    string
	lastMod string
	// Under Cache.mu:
	expires   time.Time
	have      []byte
	bytes     int64 // disk use counted
	elem      *list.Element
	dropped   bool
	transient bool // not stored: no-store
	fills     map[int64]*flight
	metaMu    sync.Mutex // orders meta writes with the drop that removes the files
}

type flight struct {
	done chan struct{}
	err  error
}

type openFlight struct {
	flight
	e      *entry
	status string
}

// New opens the cache in cfg.Dir, taking back the objects a previous run
// left there, and drops what is beyond the size bound.
func New(cfg Config) (*Cache, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, fmt.Errorf("vodcache: %w", err)
	}
	c := &Cache{
		dir:      cfg.Dir,
		maxBytes: cfg.MaxBytes,
		slice:    orDefault(cfg.SliceSize, DefaultSliceSize),
		lifetime: orDefault(cfg.DefaultLifetime, DefaultLifetime),
		stale:    cfg.StaleIfError,
		respWait: orDefault(cfg.ResponseTimeout, DefaultResponseTimeout),
		logger:   cfg.Logger,
		entries:  make(map[string]*entry),
		opens:    make(map[string]*openFlight),
		stats:    make(map[string]*prefixStats),
		sem:      make(chan struct{}, orDefault(cfg.Prefetchers, DefaultPrefetchers)),
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	c.bad = ratelog.New(c.logger, 10*time.Second, 5)
	if err := c.SetOrigins(cfg.Origins); err != nil {
		return nil, fmt.Errorf("vodcache: %w", err)
	}
	dialer := &net.Dialer{Timeout: orDefault(cfg.ConnectTimeout, DefaultConnectTimeout), KeepAlive: 30 * time.Second}
	c.client = &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   orDefault(cfg.ConnectTimeout, DefaultConnectTimeout),
			ResponseHeaderTimeout: c.respWait,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		// A redirect is an origin failure: following it could lead the
		// origin's headers, or the cache, anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("vodcache: %w", err)
	}
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("vodcache: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// SetOrigins puts a new list of origins in force for the requests that
// come from now on; cached objects stay.
func (c *Cache) SetOrigins(list []Origin) error {
	var out []origin
	for _, o := range list {
		oo, err := newOrigin(o)
		if err != nil {
			return err
		}
		out = append(out, oo)
	}
	slices.SortStableFunc(out, func(a, b origin) int { return len(b.prefix) - len(a.prefix) })
	c.origins.Store(&out)
	c.mu.Lock()
	for _, o := range out {
		c.statsLocked(o.prefix)
	}
	c.mu.Unlock()
	return nil
}

// Prefixes lists the URL prefixes with origins.
func (c *Cache) Prefixes() []string {
	var out []string
	for _, o := range *c.origins.Load() {
		out = append(out, o.prefix)
	}
	return out
}

func (c *Cache) originOf(key string) *origin {
	for _, o := range *c.origins.Load() {
		if _, ok := o.under(key); ok {
			return &o
		}
	}
	return nil
}

// Close stops the prefetches and waits for them. Open Files stay usable.
func (c *Cache) Close() {
	c.cancel()
	c.wg.Wait()
	c.client.CloseIdleConnections()
}

// load takes back the objects in the directory and removes what is not
// one (temporary files, data without a valid meta file, an older copy of
// the same object).
func (c *Cache) load() error {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	files := map[string]bool{}
	for _, de := range des {
		files[de.Name()] = de.Type().IsRegular()
	}
	type loaded struct {
		e        *entry
		accessed time.Time
	}
	var found []loaded
	for name, regular := range files {
		data, ok := strings.CutSuffix(name, ".meta")
		if !ok || !regular || !files[data] {
			continue
		}
		e, accessed, err := c.loadEntry(filepath.Join(c.dir, data))
		if err != nil {
			c.logger.Warn("vodcache: dropping a cached object that cannot be read", "file", name, "err", err)
			continue
		}
		if old := c.entries[e.key]; old != nil {
			c.logger.Warn("vodcache: two copies of one object, keeping one", "key", e.key)
			continue
		}
		c.entries[e.key] = e
		found = append(found, loaded{e, accessed})
		delete(files, name)
		delete(files, data)
	}
	for name := range files {
		os.Remove(filepath.Join(c.dir, name))
	}
	slices.SortFunc(found, func(a, b loaded) int { return a.accessed.Compare(b.accessed) })
	for _, l := range found {
		l.e.elem = c.lru.PushFront(l.e)
		c.used += l.e.bytes
	}
	c.evictLocked(nil)
	if len(found) > 0 {
		c.logger.Info("vodcache: objects taken back", "dir", c.dir, "objects", len(c.entries), "bytes", c.used)
	}
	return nil
}

func (c *Cache) loadEntry(path string) (*entry, time.Time, error) {
	f, err := os.Open(path + ".meta")
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	m, err := readMeta(f)
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	if st.Size() > m.Size {
		return nil, time.Time{}, fmt.Errorf("data file of %d bytes for an object of %d", st.Size(), m.Size)
	}
	e := &entry{
		key: m.Key, path: path, size: m.Size, slice: m.Slice, etag: m.ETag, lastMod: m.LastMod,
		expires: m.Expires, have: m.Have, bytes: blockSize,
	}
	if o := c.originOf(e.key); o != nil {
		e.prefix = o.prefix
	}
	for i := range sliceCount(e.size, e.slice) {
		if e.has(i) {
			if min((i+1)*e.slice, e.size) > st.Size() {
				return nil, time.Time{}, errors.New("the data file is shorter than its slices")
			}
			e.bytes += e.sliceCost(i)
		}
	}
	c.version++
	return e, m.Accessed, nil
}

func (e *entry) has(i int64) bool { return e.have[i/8]&(1<<(i%8)) != 0 }

func (e *entry) sliceLen(i int64) int64 { return min(e.slice, e.size-i*e.slice) }

func (e *entry) sliceCost(i int64) int64 {
	return (e.sliceLen(i) + blockSize - 1) / blockSize * blockSize
}

func (c *Cache) statsLocked(prefix string) *prefixStats {
	s := c.stats[prefix]
	if s == nil {
		s = &prefixStats{statuses: map[string]uint64{}}
		c.stats[prefix] = s
	}
	return s
}

func (c *Cache) count(prefix string, f func(*prefixStats)) {
	c.mu.Lock()
	f(c.statsLocked(prefix))
	c.mu.Unlock()
}

// errNoOrigin is a path under no configured prefix.
var errNoOrigin = &StatusError{Status: http.StatusNotFound, Err: errors.New("no origin for this path")}

// Open returns the object at the URL path key, asking its origin first
// when it is not cached or has expired. The File must be closed.
func (c *Cache) Open(ctx context.Context, key string) (*File, error) {
	o := c.originOf(key)
	if o == nil || len(key) > maxKeyLen || strings.ContainsAny(key, "\x00\\") {
		return nil, errNoOrigin
	}
	for {
		c.mu.Lock()
		e := c.entries[key]
		if e != nil && time.Now().Before(e.expires) {
			f, err := c.handleLocked(e, Hit)
			c.mu.Unlock()
			return f, err
		}
		if fl := c.opens[key]; fl != nil {
			c.mu.Unlock()
			select {
			case <-fl.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if fl.err != nil {
				return nil, fl.err
			}
			if fl.e.transient {
				continue // not kept: ask the origin again
			}
			if fl.status == Stale {
				c.mu.Lock()
				f, err := c.handleLocked(fl.e, fl.status)
				c.mu.Unlock()
				return f, err
			}
			continue
		}
		fl := &openFlight{flight: flight{done: make(chan struct{})}}
		c.opens[key] = fl
		c.mu.Unlock()

		// The origin is asked whatever becomes of this request: others
		// may be waiting for the answer.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*c.respWait)
		var f *File
		fl.e, fl.status, f, fl.err = c.openOrigin(fctx, o, key, e)
		cancel()
		c.mu.Lock()
		delete(c.opens, key)
		c.mu.Unlock()
		close(fl.done)
		return f, fl.err
	}
}

// handleLocked opens a File on e for one request.
func (c *Cache) handleLocked(e *entry, status string) (*File, error) {
	if e.elem != nil {
		c.lru.MoveToFront(e.elem)
	}
	data, err := os.OpenFile(e.path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("vodcache: open %s: %w", e.key, err)
	}
	return &File{c: c, e: e, data: data, status: status}, nil
}

// openOrigin asks the origin for the first slice of key, as a new object
// or to revalidate old, and returns the entry to serve with its status.
func (c *Cache) openOrigin(ctx context.Context, o *origin, key string, old *entry) (*entry, string, *File, error) {
	hdr := http.Header{"Range": {fmt.Sprintf("bytes=0-%d", c.slice-1)}}
	if old != nil {
		if old.etag != "" {
			hdr.Set("If-None-Match", old.etag)
		}
		if old.lastMod != "" {
			hdr.Set("If-Modified-Since", old.lastMod)
		}
	}
	resp, err := c.fetch(ctx, o, key, hdr)
	if err != nil {
		if old != nil && c.stale > 0 && time.Now().Before(old.expires.Add(c.stale)) {
			c.logger.Warn("vodcache: origin failing, serving stale", "key", key, "err", err)
			c.mu.Lock()
			f, ferr := c.handleLocked(old, Stale)
			c.mu.Unlock()
			return old, Stale, f, ferr
		}
		return nil, "", nil, err
	}
	defer resp.Body.Close()
	now := time.Now()
	life, store := lifetime(resp.Header, now, c.lifetime)
	switch resp.StatusCode {
	case http.StatusNotModified:
		if old == nil {
			return nil, "", nil, &StatusError{Status: http.StatusBadGateway, Err: errors.New("304 to an unconditional request")}
		}
		return c.revalidated(old, now.Add(life))
	case http.StatusOK, http.StatusPartialContent:
	case http.StatusRequestedRangeNotSatisfiable:
		// An empty file has no byte 0.
		if resp.Header.Get("Content-Range") != "bytes */0" {
			return nil, "", nil, &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("416 to a first slice: %s", resp.Header.Get("Content-Range"))}
		}
		resp.StatusCode, resp.ContentLength = http.StatusOK, 0
	default:
		if resp.StatusCode >= 400 && old != nil {
			c.drop(old) // gone, or no longer ours to serve
		}
		return nil, "", nil, &StatusError{Status: resp.StatusCode}
	}
	first, last, size, err := responseRange(resp)
	if err != nil || first != 0 {
		return nil, "", nil, &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("first slice of %s: %v", key, err)}
	}
	etag, lastMod := resp.Header.Get("Etag"), resp.Header.Get("Last-Modified")
	if len(etag) > maxHeaderLen || len(lastMod) > maxHeaderLen {
		return nil, "", nil, &StatusError{Status: http.StatusBadGateway, Err: errors.New("validators too long")}
	}
	status := Miss
	if old != nil {
		if old.size == size && old.etag == etag && old.lastMod == lastMod && store {
			// Unchanged, answered in full: the same as a 304.
			return c.revalidated(old, now.Add(life))
		}
		c.drop(old)
		status = Expired
	}
	if size > maxObject {
		return nil, "", nil, &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("%s: %d bytes is larger than an object may be", key, size)}
	}
	e := &entry{
		key: key, prefix: o.prefix, size: size, slice: c.slice, etag: etag, lastMod: lastMod,
		expires: now.Add(life), have: make([]byte, (sliceCount(size, c.slice)+7)/8), bytes: blockSize,
		transient: !store,
	}
	var f *File
	if store {
		c.mu.Lock()
		c.version++
		e.path = filepath.Join(c.dir, objectName(key, c.version))
		c.mu.Unlock()
		data, err := os.OpenFile(e.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, "", nil, fmt.Errorf("vodcache: create %s: %w", e.path, err)
		}
		f = &File{c: c, e: e, data: data, status: status}
	} else {
		data, err := os.CreateTemp(c.dir, "bypass-*")
		if err != nil {
			return nil, "", nil, fmt.Errorf("vodcache: %w", err)
		}
		os.Remove(data.Name()) // gone with the last descriptor
		f = &File{c: c, e: e, data: data, status: Bypass}
		status = Bypass
	}
	if err := f.data.Truncate(size); err != nil {
		f.Close()
		return nil, "", nil, fmt.Errorf("vodcache: %w", err)
	}
	if err := c.store(ctx, f, resp, first, last); err != nil {
		f.Close()
		if store {
			os.Remove(e.path)
		}
		return nil, "", nil, err
	}
	if store {
		c.writeMeta(e)
		c.mu.Lock()
		c.entries[key] = e
		e.elem = c.lru.PushFront(e)
		c.used += e.bytes
		c.evictLocked(e)
		c.mu.Unlock()
	}
	return e, status, f, nil
}

// revalidated serves old, which the origin says has not changed, until
// expires.
func (c *Cache) revalidated(old *entry, expires time.Time) (*entry, string, *File, error) {
	c.mu.Lock()
	old.expires = expires
	f, err := c.handleLocked(old, Revalidated)
	c.mu.Unlock()
	c.writeMeta(old)
	return old, Revalidated, f, err
}

// objectName names the files of one version of an object.
func objectName(key string, version uint64) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:12]) + "-" + strconv.FormatUint(version, 36) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// responseRange is the byte range a 200 or 206 answer holds and the
// object's size.
func responseRange(resp *http.Response) (first, last, size int64, err error) {
	if resp.StatusCode == http.StatusOK {
		if resp.ContentLength < 0 {
			return 0, 0, 0, errors.New("200 without Content-Length")
		}
		return 0, resp.ContentLength - 1, resp.ContentLength, nil
	}
	first, last, size, err = parseContentRange(resp.Header.Get("Content-Range"))
	if err == nil && resp.ContentLength >= 0 && resp.ContentLength != last-first+1 {
		err = errors.New("Content-Length does not match Content-Range")
	}
	return first, last, size, err
}

// store writes the body of resp, bytes first..last of the object, to the
// data file, and marks the slices it completes. Only whole slices count:
// an answer starts at a slice boundary and ends at one or at the end.
func (c *Cache) store(ctx context.Context, f *File, resp *http.Response, first, last int64) error {
	e := f.e
	n := last - first + 1
	if first%e.slice != 0 || (last+1)%e.slice != 0 && last+1 != e.size {
		return &StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("%s: answer of bytes %d-%d is not whole slices", e.key, first, last)}
	}
	timer := time.AfterFunc(c.respWait, func() { resp.Body.Close() })
	defer timer.Stop()
	body := &idleBody{body: resp.Body, timer: timer, timeout: c.respWait}
	buf := make([]byte, 64<<10)
	var got int64
	for got < n {
		k, err := io.ReadFull(body, buf[:min(int64(len(buf)), n-got)])
		if k > 0 {
			if _, werr := f.data.WriteAt(buf[:k], first+got); werr != nil {
				return fmt.Errorf("vodcache: write %s: %w", e.key, werr)
			}
			got += int64(k)
		}
		if err != nil {
			status := http.StatusBadGateway
			if ctx.Err() != nil {
				status = http.StatusGatewayTimeout
			}
			c.count(e.prefix, func(s *prefixStats) { s.fetched += uint64(got); s.originErrors++ })
			return &StatusError{Status: status, Err: fmt.Errorf("%s: body ended after %d of %d bytes: %w", e.key, got, n, err)}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statsLocked(e.prefix).fetched += uint64(n)
	for i := first / e.slice; i <= last/e.slice; i++ {
		if !e.has(i) {
			e.have[i/8] |= 1 << (i % 8)
			e.bytes += e.sliceCost(i)
			if e.elem != nil && !e.dropped {
				c.used += e.sliceCost(i)
			}
		}
	}
	return nil
}

// evictLocked drops the least recently used objects until the bound
// holds. keep leaves last: it is being filled.
func (c *Cache) evictLocked(keep *entry) {
	for c.used > c.maxBytes && c.lru.Len() > 0 {
		e := c.lru.Back().Value.(*entry)
		if e == keep && c.lru.Len() > 1 {
			c.lru.MoveToFront(e.elem)
			e = c.lru.Back().Value.(*entry)
		}
		c.dropLocked(e)
	}
}

func (c *Cache) drop(e *entry) {
	c.mu.Lock()
	c.dropLocked(e)
	c.mu.Unlock()
}

// dropLocked removes e from the cache and its files from the disk. Open
// Files of it read on from their descriptors.
func (c *Cache) dropLocked(e *entry) {
	if e.dropped || e.transient {
		return
	}
	e.dropped = true
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
		c.used -= e.bytes
	}
	e.metaMu.Lock()
	os.Remove(e.path + ".meta")
	os.Remove(e.path)
	e.metaMu.Unlock()
}

// writeMeta saves e's meta file, unless e has been dropped.
func (c *Cache) writeMeta(e *entry) {
	if e.transient {
		return
	}
	c.mu.Lock()
	m := &meta{Version: metaVersion, Key: e.key, Size: e.size, Slice: e.slice, ETag: e.etag, LastMod: e.lastMod,
		Expires: e.expires, Have: slices.Clone(e.have), Accessed: time.Now()}
	c.mu.Unlock()
	e.metaMu.Lock()
	defer e.metaMu.Unlock()
	if e.dropped {
		return
	}
	if err := writeMeta(e.path+".meta", m); err != nil {
		c.bad.Warn("meta", "vodcache: cannot save an object's meta file", "key", e.key, "err", err)
	}
}

// Purge drops the object at path, or every object under it when it ends
// with "/", and returns how many were dropped.
func (c *Cache) Purge(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for key, e := range c.entries {
		if key == path || strings.HasSuffix(path, "/") && strings.HasPrefix(key, path) {
			c.dropLocked(e)
			n++
		}
	}
	return n
}
