package vodcache

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testOrigin serves files from memory with Range, validators and the
// Cache-Control it is given, and counts what it is asked.
type testOrigin struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	etags    map[string]string
	control  string
	fail     int // answer this status to everything when set
	requests int
	bytes    int64
	headers  []http.Header
}

func newTestOrigin(t *testing.T) *testOrigin {
	o := &testOrigin{t: t, files: map[string][]byte{}, etags: map[string]string{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *testOrigin) put(name string, b []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.files[name] = b
	o.etags[name] = fmt.Sprintf(`"v%d-%d"`, len(o.etags), len(b))
}

type countingWriter struct {
	http.ResponseWriter
	n *int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	*w.n += int64(n)
	return n, err
}

func (o *testOrigin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.requests++
	o.headers = append(o.headers, r.Header.Clone())
	b, ok := o.files[r.URL.Path]
	etag, control, fail := o.etags[r.URL.Path], o.control, o.fail
	o.mu.Unlock()
	if fail != 0 {
		http.Error(w, "failing", fail)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Etag", etag)
	if control != "" {
		w.Header().Set("Cache-Control", control)
	}
	var n int64
	http.ServeContent(countingWriter{w, &n}, r, "", time.Unix(1700000000, 0), bytes.NewReader(b))
	o.mu.Lock()
	o.bytes += n
	o.mu.Unlock()
}

func (o *testOrigin) counts() (int, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests, o.bytes
}

func (o *testOrigin) set(f func(o *testOrigin)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

const testSlice = 64 << 10

func newTestCache(t *testing.T, dir string, mod func(*Config), urls ...string) *Cache {
	t.Helper()
	cfg := Config{Dir: dir, MaxBytes: 64 << 20, SliceSize: testSlice, Origins: []Origin{{Prefix: "/vod", URLs: urls}},
		ConnectTimeout: 2 * time.Second, ResponseTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// readAll reads the object at key through the cache, and its status.
func readAll(t *testing.T, c *Cache, key string) ([]byte, string) {
	t.Helper()
	f, err := c.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer f.Close()
	if err := f.Ensure(0); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b, f.Status()
}

func TestMissThenHit(t *testing.T) {
	o := newTestOrigin(t)
	want := randomBytes(300_000)
	o.put("/vod/a/film one.flv", want)
	c := newTestCache(t, t.TempDir(), nil, o.srv.URL)
	got, status := readAll(t, c, "/vod/a/film one.flv")
	if !bytes.Equal(got, want) || status != Miss {
		t.Fatalf("first read: %d bytes, equal %v, status %s; want the file, MISS", len(got), bytes.Equal(got, want), status)
	}
	reqs, _ := o.counts()
	got, status = readAll(t, c, "/vod/a/film one.flv")
	if !bytes.Equal(got, want) || status != Hit {
		t.Fatalf("second read: equal %v, status %s; want HIT", bytes.Equal(got, want), status)
	}
	if again, _ := o.counts(); again != reqs {
		t.Fatalf("a hit asked the origin: %d requests, then %d", reqs, again)
	}
	st := c.Stats()
	if st.Entries != 1 || st.Prefixes[0].Requests[Hit] != 1 || st.Prefixes[0].Requests[Miss] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestOriginPaths: a URL without a path gets the whole request path, one
// with a path has the prefix replaced; segments are escaped; headers go
// to their prefix's origins only.
func TestOriginPaths(t *testing.T) {
	o := newTestOrigin(t)
	o.put("/media/x y%.flv", []byte("media"))
	o.put("/live/b.flv", []byte("live"))
	o.put("/c.flv", []byte("root"))
	c := newTestCache(t, t.TempDir(), func(cfg *Config) {
		cfg.Origins = []Origin{
			{Prefix: "/vod", URLs: []string{o.srv.URL + "/media/"}, Header: http.Header{"X-Secret": {"s3"}}},
			{Prefix: "/live", URLs: []string{o.srv.URL}},
			{Prefix: "/films", URLs: []string{o.srv.URL + "/"}},
		}
	})
	if got, _ := readAll(t, c, "/films/c.flv"); string(got) != "root" {
		t.Fatalf("got %q", got)
	}
	if got, _ := readAll(t, c, "/vod/x y%.flv"); string(got) != "media" {
		t.Fatalf("got %q", got)
	}
	if got, _ := readAll(t, c, "/live/b.flv"); string(got) != "live" {
		t.Fatalf("got %q", got)
	}
	o.set(func(o *testOrigin) {
		if o.headers[1].Get("X-Secret") != "s3" || o.headers[2].Get("X-Secret") != "" {
			t.Errorf("headers: %v, %v", o.headers[1], o.headers[2])
		}
	})
	if _, err := c.Open(context.Background(), "/other/a.flv"); err == nil {
		t.Fatal("a path under no prefix opened")
	}
}

func TestRangeDeepInLargeFile(t *testing.T) {
	o := newTestOrigin(t)
	want := randomBytes(8 << 20)
	o.put("/vod/big.mp4", want)
	c := newTestCache(t, t.TempDir(), nil, o.srv.URL)
	f, err := c.Open(context.Background(), "/vod/big.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, 1000)
	off := int64(7<<20 + 12345)
	if _, err := f.ReadAt(p, off); err != nil || !bytes.Equal(p, want[off:off+1000]) {
		t.Fatalf("read at %d: %v", off, err)
	}
	if _, fetched := o.counts(); fetched > 3*testSlice {
		t.Fatalf("the origin sent %d bytes for a 1000-byte read deep in the file", fetched)
	}
}

func TestCrowdCollapses(t *testing.T) {
	o := newTestOrigin(t)
	want := randomBytes(2<<20 + 777)
	o.put("/vod/crowd.flv", want)
	c := newTestCache(t, t.TempDir(), nil, o.srv.URL)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			got, _ := readAll(t, c, "/vod/crowd.flv")
			if !bytes.Equal(got, want) {
				t.Error("a viewer got other bytes")
			}
		})
	}
	wg.Wait()
	if _, fetched := o.counts(); float64(fetched) > 1.3*float64(len(want)) {
		t.Fatalf("50 viewers cost the origin %.2f copies", float64(fetched)/float64(len(want)))
	}
}

func TestErrorsNotCached(t *testing.T) {
	o := newTestOrigin(t)
	c := newTestCache(t, t.TempDir(), nil, o.srv.URL)
	for i := range 2 {
		_, err := c.Open(context.Background(), "/vod/none.flv")
		var se *StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			t.Fatalf("open %d: %v, want a 404", i, err)
		}
	}
	if reqs, _ := o.counts(); reqs != 2 {
		t.Fatalf("%d origin requests for two 404s, want 2", reqs)
	}
}

// TestFailover: a failing origin, a redirecting one and a closed one
// are passed over for the next; redirects are not followed.
func TestFailover(t *testing.T) {
	good := newTestOrigin(t)
	good.put("/vod/a.flv", []byte("good"))
	bad := newTestOrigin(t)
	bad.set(func(o *testOrigin) { o.fail = http.StatusServiceUnavailable })
	redirect := httptest.NewServer(http.RedirectHandler(good.srv.URL+"/vod/a.flv", http.StatusFound))
	defer redirect.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c := newTestCache(t, t.TempDir(), nil, closed.URL, bad.srv.URL, redirect.URL)
	_, err := c.Open(context.Background(), "/vod/a.flv")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadGateway {
		t.Fatalf("every origin failing: %v, want 502", err)
	}
	if reqs, _ := good.counts(); reqs != 0 {
		t.Fatal("a redirect was followed")
	}
	c2 := newTestCache(t, t.TempDir(), nil, closed.URL, bad.srv.URL, redirect.URL, good.srv.URL)
	if got, _ := readAll(t, c2, "/vod/a.flv"); string(got) != "good" {
		t.Fatalf("got %q", got)
	}
}

func TestRestartKeepsObjects(t *testing.T) {
	o := newTestOrigin(t)
	want := randomBytes(200_000)
	o.put("/vod/a.flv", want)
	dir := t.TempDir()
	c := newTestCache(t, dir, nil, o.srv.URL)
	readAll(t, c, "/vod/a.flv")
	c.Close()
	reqs, _ := o.counts()
	c = newTestCache(t, dir, nil, o.srv.URL)
	got, status := readAll(t, c, "/vod/a.flv")
	if !bytes.Equal(got, want) || status != Hit {
		t.Fatalf("after a restart: equal %v, status %s", bytes.Equal(got, want), status)
	}
	if again, _ := o.counts(); again != reqs {
		t.Fatal("after a restart, the origin was asked")
	}
	// Damaged meta files and strays are dropped, not trusted.
	os.WriteFile(filepath.Join(dir, "stray.tmp"), []byte("x"), 0o644)
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if filepath.Ext(de.Name()) == ".meta" {
			os.WriteFile(filepath.Join(dir, de.Name()), []byte(`{"v":1,"key":"/vod/a.flv","size":-1}`), 0o644)
		}
	}
	c = newTestCache(t, dir, nil, o.srv.URL)
	if c.Stats().Entries != 0 {
		t.Fatal("a damaged meta file was taken back")
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Fatalf("%d files left in the cache dir", len(des))
	}
}

// dirSize is the disk the files in dir take.
func dirSize(t *testing.T, dir string) int64 {
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, de := range des {
		info, err := de.Info()
		if err == nil {
			n += diskUse(info)
		}
	}
	return n
}

func TestSizeBound(t *testing.T) {
	o := newTestOrigin(t)
	const max = 2 << 20
	var names []string
	for i := range 12 {
		name := fmt.Sprintf("/vod/f%d.flv", i)
		o.put(name, randomBytes(500_000))
		names = append(names, name)
	}
	dir := t.TempDir()
	c := newTestCache(t, dir, func(cfg *Config) { cfg.MaxBytes = max }, o.srv.URL)
	for round := range 2 {
		for _, name := range names {
			readAll(t, c, name)
			if n := dirSize(t, dir); n > max {
				t.Fatalf("round %d, after %s: the cache dir takes %d bytes, more than %d", round, name, n, max)
			}
		}
	}
	if st := c.Stats(); st.Bytes > max || st.Entries == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFreshness(t *testing.T) {
	o := newTestOrigin(t)
	o.put("/vod/a.flv", []byte("version one"))
	o.set(func(o *testOrigin) { o.control = "max-age=0" })
	c := newTestCache(t, t.TempDir(), func(cfg *Config) { cfg.StaleIfError = time.Hour }, o.srv.URL)
	if _, s := readAll(t, c, "/vod/a.flv"); s != Miss {
		t.Fatal(s)
	}
	if got, s := readAll(t, c, "/vod/a.flv"); s != Revalidated || string(got) != "version one" {
		t.Fatalf("expired, unchanged: %s %q", s, got)
	}
	o.put("/vod/a.flv", []byte("version two, longer"))
	if got, s := readAll(t, c, "/vod/a.flv"); s != Expired || string(got) != "version two, longer" {
		t.Fatalf("expired, changed: %s %q", s, got)
	}
	o.set(func(o *testOrigin) { o.fail = http.StatusInternalServerError })
	if got, s := readAll(t, c, "/vod/a.flv"); s != Stale || string(got) != "version two, longer" {
		t.Fatalf("origin failing: %s %q", s, got)
	}
	o.set(func(o *testOrigin) { o.fail, o.control = 0, "no-store" })
	o.put("/vod/b.flv", []byte("secret"))
	for range 2 {
		if got, s := readAll(t, c, "/vod/b.flv"); s != Bypass || string(got) != "secret" {
			t.Fatalf("no-store: %s %q", s, got)
		}
	}
	if c.Stats().Entries != 1 {
		t.Fatal("a no-store answer was kept")
	}
}

// TestChangeMidFill: the origin's file changes between two slices: the
// object is dropped, never served mixed, and the next open fetches the
// new version.
func TestChangeMidFill(t *testing.T) {
	o := newTestOrigin(t)
	o.put("/vod/a.flv", randomBytes(3*testSlice))
	c := newTestCache(t, t.TempDir(), nil, o.srv.URL)
	f, err := c.Open(context.Background(), "/vod/a.flv")
	if err != nil {
		t.Fatal(err)
	}
	want := randomBytes(3 * testSlice)
	o.put("/vod/a.flv", want)
	_, err = f.ReadAt(make([]byte, 10), 2*testSlice)
	f.Close()
	if !errors.Is(err, errChanged) {
		t.Fatalf("read after the change: %v", err)
	}
	if got, s := readAll(t, c, "/vod/a.flv"); !bytes.Equal(got, want) || s != Miss {
		t.Fatalf("after the drop: equal %v, %s", bytes.Equal(got, want), s)
	}
}

func TestPrefetchAndPurge(t *testing.T) {
	o := newTestOrigin(t)
	o.put("/vod/a.flv", randomBytes(300_000))
	o.put("/vod/d/b.flv", randomBytes(100_000))
	c := newTestCache(t, t.TempDir(), nil, o.srv.URL)
	if err := c.Prefetch([]string{"/vod/../x.flv"}); err == nil {
		t.Fatal("a path with .. was taken")
	}
	if err := c.Prefetch([]string{"/vod/a.flv", "/vod/d/b.flv"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for c.Stats().Prefetching > 0 {
		if time.Now().After(deadline) {
			t.Fatal("prefetch did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	reqs, _ := o.counts()
	if _, s := readAll(t, c, "/vod/a.flv"); s != Hit {
		t.Fatalf("first viewer after prefetch: %s", s)
	}
	if again, _ := o.counts(); again != reqs {
		t.Fatal("the origin was asked after prefetch")
	}
	if n := c.Purge("/vod/d/"); n != 1 {
		t.Fatalf("purged %d", n)
	}
	if n := c.Purge("/vod/a.flv"); n != 1 || c.Stats().Entries != 0 {
		t.Fatalf("purged %d, %d left", n, c.Stats().Entries)
	}
}

func TestLifetime(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header http.Header
		life   time.Duration
		store  bool
	}{
		{http.Header{}, time.Hour, true},
		{http.Header{"Cache-Control": {"max-age=60"}}, time.Minute, true},
		{http.Header{"Cache-Control": {"max-age=60, s-maxage=10"}}, 10 * time.Second, true},
		{http.Header{"Cache-Control": {"s-maxage=10", "max-age=60"}}, 10 * time.Second, true},
		{http.Header{"Cache-Control": {"public, no-cache"}}, 0, true},
		{http.Header{"Cache-Control": {"private, max-age=60"}}, 0, false},
		{http.Header{"Cache-Control": {"no-store"}}, 0, false},
		{http.Header{"Cache-Control": {"max-age=abc"}}, time.Hour, true},
		{http.Header{"Cache-Control": {"max-age=99999999999999"}}, maxLifetime, true},
		{http.Header{"Expires": {"Thu, 01 Jan 2026 00:05:00 GMT"}}, 5 * time.Minute, true},
		{http.Header{"Expires": {"Thu, 01 Jan 2026 00:05:00 GMT"}, "Date": {"Thu, 01 Jan 2026 00:04:00 GMT"}}, time.Minute, true},
		{http.Header{"Expires": {"0"}}, 0, true},
		{http.Header{"Expires": {"Thu, 01 Jan 2026 00:05:00 GMT"}, "Cache-Control": {"max-age=1"}}, time.Second, true},
	} {
		life, store := lifetime(tc.header, now, time.Hour)
		if life != tc.life || store != tc.store {
			t.Errorf("%v: %v %v, want %v %v", tc.header, life, store, tc.life, tc.store)
		}
	}
}
