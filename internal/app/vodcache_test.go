//go:build e2e

package app

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/vod"
)

// These tests run an edge as a CDN node for stored files, in front of
// origins nobody here wrote: Debian's nginx serving a directory, and an
// ingest's own --vod-root.

// vodOrigin is an origin of stored files whose requests the test counts.
type vodOrigin struct {
	url      string
	requests func(path string) (n int, bytes int64)
	stop     func()
}

// startNginx serves dir with Debian's nginx on a loopback port, with a
// config, prefix and pid file of its own, behind a counter of what it
// answers (see countRequests).
func startNginx(t *testing.T, dir string) *vodOrigin {
	t.Helper()
	bin := testutil.RequireTool(t, "nginx", "nginx-light")
	prefix := t.TempDir()
	addr := freePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 512; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  types { video/x-flv flv; video/mp4 mp4; }
  default_type application/octet-stream;
  server {
    listen %[2]s;
    root %[3]s;
    location / { }
  }
}
`, prefix, addr, dir)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath, "-e", filepath.Join(prefix, "error.log"))
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := sync.OnceFunc(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	})
	t.Cleanup(stop)
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	target, _ := neturl.Parse(url)
	counted := countRequests(t, httputil.NewSingleHostReverseProxy(target))
	// Killing the origin closes the door in front of it too: connections
	// are refused, as they are by a dead server.
	counted.stop = func() {
		stop()
		counted.srv.Close()
	}
	return &counted.vodOrigin
}

// countedOrigin is an origin behind a counter of the requests and bytes
// it answers, per path. Both are counted before the edge can see them
// (a request as it comes, bytes before they are written), so that a test
// reads them after the edge's answer without waiting; nginx's access log
// is written after its response and could not be read so.
type countedOrigin struct {
	vodOrigin
	srv *httptest.Server
}

func countRequests(t *testing.T, h http.Handler) *countedOrigin {
	var mu sync.Mutex
	counts := map[string]*[2]atomic.Int64{}
	at := func(path string) *[2]atomic.Int64 {
		mu.Lock()
		defer mu.Unlock()
		c := counts[path]
		if c == nil {
			c = new([2]atomic.Int64)
			counts[path] = c
		}
		return c
	}
	o := &countedOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := at(r.URL.Path)
		c[0].Add(1)
		h.ServeHTTP(&countWriter{ResponseWriter: w, n: &c[1]}, r)
	}))
	t.Cleanup(o.srv.Close)
	o.url, o.stop = o.srv.URL, o.srv.Close
	o.requests = func(path string) (int, int64) {
		c := at(path)
		return int(c[0].Load()), c[1].Load()
	}
	return o
}

// startIngestOrigin serves dir with an ingest's --vod-root, counting the
// requests it gets.
func startIngestOrigin(t *testing.T, dir string) *vodOrigin {
	t.Helper()
	ingest := startServer(t, Ingest, func(c *config.Config) {
		c.VOD.Roots = []config.VODRoot{{Prefix: "/vod", Dir: dir}}
		c.VOD.Extensions = []string{".flv", ".mp4", ".bin"}
	})
	return &countRequests(t, ingest.web.Handler()).vodOrigin
}

// countWriter counts the bytes of a response before they go.
type countWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n - len(p)))
	return n, err
}

// vodMedia writes the files the tests serve: an FLV without a keyframe
// index, an MP4 with its moov last, and a large file of random bytes.
func vodMedia(t *testing.T, bigSize int) string {
	t.Helper()
	dir := t.TempDir()
	vodDir := filepath.Join(dir, "vod")
	os.Mkdir(vodDir, 0o755)
	// film.flv is demo.flv with the keyframe index that package vod adds
	// to it, so that it is served as stored, byte for byte.
	h, err := vod.New(vod.Config{Roots: []vod.Root{{Prefix: "/app", Dir: "."}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/app/demo.flv", nil))
	if rec.Code != 200 {
		t.Fatalf("indexing demo.flv: %d", rec.Code)
	}
	os.WriteFile(filepath.Join(vodDir, "film.flv"), rec.Body.Bytes(), 0o644)
	mp4 := filepath.Join(vodDir, "clip.mp4")
	out, err := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", mp4).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg making an MP4: %v\n%s", err, out)
	}
	big := make([]byte, bigSize)
	rand.Read(big)
	os.WriteFile(filepath.Join(vodDir, "big.bin"), big, 0o644)
	return dir
}

// startVODEdge starts an edge serving /vod from origins through a cache
// in dir, with short origin timeouts.
func startVODEdge(t *testing.T, dir string, size int64, origins ...string) *testServer {
	t.Helper()
	return startServer(t, Edge, func(c *config.Config) {
		c.VOD.Origins = []config.VODOrigin{{Prefix: "/vod", URLs: origins}}
		c.VOD.Cache.Dir = dir
		c.VOD.Cache.Size = config.ByteSize(size)
		// Short enough that a dead origin is an answer within the test,
		// long enough for a loaded machine.
		c.VOD.Cache.ConnectTimeout = 10 * time.Second
		c.VOD.Cache.ResponseTimeout = 20 * time.Second
		c.VOD.Extensions = []string{".flv", ".mp4", ".bin"}
	})
}

type vodAnswer struct {
	status int
	cache  string
	body   []byte
	header http.Header
}

func vodGet(t *testing.T, url string, header ...string) vodAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return vodAnswer{status: resp.StatusCode, cache: resp.Header.Get("X-Cache-Status"), body: body, header: resp.Header}
}

func ffmpegDecodes(t *testing.T, url string) {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-hide_banner", "-nostdin", "-v", "error",
		"-i", url, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg decoding %s: %v\n%s", url, err, out)
	}
}

// TestVODCacheInFrontOfOrigins: for nginx and for an ingest as origin, a
// first request is a MISS with the origin's bytes, the next a HIT with no
// origin request; a Range deep in a large cold file costs the origin a
// slice or two; 50 viewers of a cold file cost it about one copy; seeks
// and clips play in ffmpeg; a 404 is passed on and not kept.
func TestVODCacheInFrontOfOrigins(t *testing.T) {
	const big = 24 << 20
	media := vodMedia(t, big)
	// The crowd's file: 50 copies of it go through the edge, kept small
	// for a busy machine.
	crowdFile := make([]byte, 4<<20+12345)
	rand.Read(crowdFile)
	os.WriteFile(filepath.Join(media, "vod", "crowd.bin"), crowdFile, 0o644)
	for name, start := range map[string]func(t *testing.T) *vodOrigin{
		"nginx":  func(t *testing.T) *vodOrigin { return startNginx(t, media) },
		"ingest": func(t *testing.T) *vodOrigin { return startIngestOrigin(t, filepath.Join(media, "vod")) },
	} {
		t.Run(name, func(t *testing.T) {
			origin := start(t)
			edge := startVODEdge(t, t.TempDir(), 2<<30, origin.url)
			base := edge.baseURL()

			direct := vodGet(t, origin.url+"/vod/film.flv")
			first := vodGet(t, base+"/vod/film.flv")
			if first.status != 200 || first.cache != "MISS" || !bytes.Equal(first.body, direct.body) {
				t.Fatalf("first GET: %d %s, %d bytes, the origin's %d", first.status, first.cache, len(first.body), len(direct.body))
			}
			if file, _ := os.ReadFile(filepath.Join(media, "vod", "film.flv")); !bytes.Equal(first.body, file) {
				t.Fatal("the first GET is not the file")
			}
			reqs, _ := origin.requests("/vod/film.flv")
			second := vodGet(t, base+"/vod/film.flv")
			if second.cache != "HIT" || !bytes.Equal(second.body, direct.body) {
				t.Fatalf("second GET: %s", second.cache)
			}
			if again, _ := origin.requests("/vod/film.flv"); again != reqs {
				t.Fatalf("a HIT asked the origin: %d requests, then %d", reqs, again)
			}
			if second.header.Get("Etag") == "" || second.header.Get("Etag") != direct.header.Get("Etag") && name == "nginx" {
				t.Errorf("ETag %q, the origin's %q", second.header.Get("Etag"), direct.header.Get("Etag"))
			}
			cond := vodGet(t, base+"/vod/film.flv", "If-None-Match", second.header.Get("Etag"))
			if cond.status != http.StatusNotModified {
				t.Errorf("If-None-Match with the ETag: %d", cond.status)
			}

			// A Range deep in a large cold file.
			bigFile, _ := os.ReadFile(filepath.Join(media, "vod", "big.bin"))
			off := big - 3<<20
			rng := vodGet(t, base+"/vod/big.bin", "Range", fmt.Sprintf("bytes=%d-%d", off, off+99_999))
			if rng.status != 206 || rng.cache != "MISS" || !bytes.Equal(rng.body, bigFile[off:off+100_000]) {
				t.Fatalf("Range deep in big.bin: %d %s, %d bytes", rng.status, rng.cache, len(rng.body))
			}
			_, fetched := origin.requests("/vod/big.bin")
			if fetched >= 4<<20 {
				t.Fatalf("a 100 kB Range of a cold file fetched %d bytes from the origin", fetched)
			}
			t.Logf("a 100 kB Range 21 MiB into a cold 24 MiB file fetched %d bytes from the origin", fetched)

			// 50 viewers of a cold file.
			mp4File, _ := os.ReadFile(filepath.Join(media, "vod", "clip.mp4"))
			var wg sync.WaitGroup
			var bad atomic.Int64
			for range 50 {
				wg.Go(func() {
					resp, err := http.Get(base + "/vod/crowd.bin")
					if err != nil {
						t.Log(err)
						bad.Add(1)
						return
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if !bytes.Equal(b, crowdFile) {
						t.Log(resp.StatusCode, len(b), err)
						bad.Add(1)
					}
				})
			}
			wg.Wait()
			if bad.Load() > 0 {
				t.Fatalf("%d of 50 viewers did not get the file\n%s", bad.Load(), edge.log.String())
			}
			reqs, fetched = origin.requests("/vod/crowd.bin")
			if float64(fetched) > 1.3*float64(len(crowdFile)) {
				t.Fatalf("50 viewers of a cold file cost the origin %.2f copies", float64(fetched)/float64(len(crowdFile)))
			}
			t.Logf("50 viewers of a cold file cost the origin %.3f copies in %d requests", float64(fetched)/float64(len(crowdFile)), reqs)

			// Seeks and clips through the cache, decoded by ffmpeg.
			ffmpegDecodes(t, fmt.Sprintf("%s/vod/film.flv?start=%d", base, len(direct.body)/2))
			ffmpegDecodes(t, base+"/vod/film.flv?t=1,3")
			ffmpegDecodes(t, base+"/vod/clip.mp4?start=2.5&end=6")
			whole := vodGet(t, base+"/vod/clip.mp4")
			if whole.status != 200 || len(whole.body) != len(mp4File) || bytes.Equal(whole.body, mp4File) {
				t.Errorf("clip.mp4 (moov last): %d, %d bytes of %d, moved to the front: %v", whole.status, len(whole.body), len(mp4File), !bytes.Equal(whole.body, mp4File))
			}
			ffmpegDecodes(t, base+"/vod/clip.mp4")
			manifest := vodGet(t, base+"/vod/clip.ism/Manifest")
			if manifest.status != 200 || !bytes.Contains(manifest.body, []byte("SmoothStreamingMedia")) || manifest.cache == "" {
				t.Errorf("Smooth Streaming manifest: %d %s %.100s", manifest.status, manifest.cache, manifest.body)
			}

			// An origin's 404 is passed on, and not kept.
			for i := range 2 {
				if a := vodGet(t, base+"/vod/none.flv"); a.status != 404 || a.cache == "" {
					t.Fatalf("GET %d of a missing file: %d %q", i, a.status, a.cache)
				}
			}
			if n, _ := origin.requests("/vod/none.flv"); n != 2 {
				t.Fatalf("two 404s cost the origin %d requests, want 2", n)
			}
		})
	}
}

// TestVODCachePrefetchPurgeRestart: a prefetched file's first viewer is
// a HIT, a purged one a MISS again, and after a restart the cache still
// has it.
func TestVODCachePrefetchPurgeRestart(t *testing.T) {
	media := vodMedia(t, 3<<20)
	origin := startNginx(t, media)
	cacheDir := t.TempDir()
	edge := startVODEdge(t, cacheDir, 2<<30, origin.url)
	admin := edge.adminURL()

	resp, err := http.Post(admin+"/api/cache/prefetch", "application/json", strings.NewReader(`{"paths": ["/vod/film.flv", "/vod/big.bin"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("prefetch: %d", resp.StatusCode)
	}
	for _, body := range []string{`{"paths": ["/vod/../etc/passwd"]}`, `{"paths": []}`, `not json`, `{"paths": ["/vod/a.flv"], "x": 1}`} {
		resp, err := http.Post(admin+"/api/cache/prefetch", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("prefetch %s: %d, want 400", body, resp.StatusCode)
		}
	}
	var stats struct {
		Entries     int `json:"entries"`
		Prefetching int `json:"prefetching"`
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(admin + "/api/cache")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
		if stats.Prefetching == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prefetch did not end: %+v", stats)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if stats.Entries != 2 {
		t.Fatalf("after prefetch: %+v", stats)
	}
	n, _ := origin.requests("/vod/big.bin")
	if a := vodGet(t, edge.baseURL()+"/vod/big.bin"); a.cache != "HIT" || a.status != 200 {
		t.Fatalf("first viewer after prefetch: %d %s", a.status, a.cache)
	}
	if again, _ := origin.requests("/vod/big.bin"); again != n {
		t.Fatal("the first viewer after prefetch asked the origin")
	}

	req, _ := http.NewRequest(http.MethodDelete, admin+"/api/cache?path=/vod/big.bin", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := vodGet(t, edge.baseURL()+"/vod/big.bin"); a.cache != "MISS" {
		t.Fatalf("after purge: %s", a.cache)
	}
	m := scrape(t, edge)
	for name, want := range map[string]float64{
		"flvedge_vod_cache_requests_total":       1, // a HIT, and a MISS
		"flvedge_vod_origin_fetched_bytes_total": 2 * 3 << 20,
		"flvedge_vod_cache_served_bytes_total":   2 * 3 << 20,
		"flvedge_vod_cache_entries":              2,
	} {
		labels := map[string]string{"prefix": "/vod"}
		if name == "flvedge_vod_cache_requests_total" {
			labels["status"] = "HIT"
		}
		if got, ok := value(m, name, labels); !ok || got < want {
			t.Errorf("%s%v = %v, want at least %v", name, labels, got, want)
		}
	}

	edge.close()
	edge = startVODEdge(t, cacheDir, 2<<30, origin.url)
	n, _ = origin.requests("/vod/film.flv")
	if a := vodGet(t, edge.baseURL()+"/vod/film.flv"); a.cache != "HIT" || a.status != 200 {
		t.Fatalf("after a restart: %d %s", a.status, a.cache)
	}
	if again, _ := origin.requests("/vod/film.flv"); again != n {
		t.Fatal("after a restart, the origin was asked")
	}
}

// TestVODCacheOriginKilled: with the origin gone, a cached file still
// plays and an uncached one is a 502 or 504, not a hang; with a second
// origin, the edge fails over to it.
func TestVODCacheOriginKilled(t *testing.T) {
	media := vodMedia(t, 3<<20)
	nginx := startNginx(t, media)
	edge := startVODEdge(t, t.TempDir(), 2<<30, nginx.url)
	base := edge.baseURL()
	if a := vodGet(t, base+"/vod/film.flv"); a.status != 200 {
		t.Fatal(a.status)
	}
	// The head of big.bin is cached, not its end.
	if a := vodGet(t, base+"/vod/big.bin", "Range", "bytes=0-99"); a.status != 206 {
		t.Fatal(a.status)
	}
	nginx.stop()
	if a := vodGet(t, base+"/vod/big.bin", "Range", "bytes=-100"); a.status != http.StatusBadGateway || a.cache != "MISS" {
		t.Fatalf("uncached end of a cached file, origin down: %d %s, want 502 MISS", a.status, a.cache)
	}
	if a := vodGet(t, base+"/vod/film.flv"); a.status != 200 || a.cache != "HIT" {
		t.Fatalf("cached, origin down: %d %s", a.status, a.cache)
	}
	ffmpegDecodes(t, base+"/vod/film.flv?t=1")
	a := vodGet(t, base+"/vod/clip.mp4")
	if a.status != http.StatusBadGateway && a.status != http.StatusGatewayTimeout {
		t.Fatalf("uncached, origin down: %d, want 502 or 504", a.status)
	}

	ingest := startIngestOrigin(t, filepath.Join(media, "vod"))
	edge2 := startVODEdge(t, t.TempDir(), 2<<30, nginx.url, ingest.url)
	if a := vodGet(t, edge2.baseURL()+"/vod/clip.mp4"); a.status != 200 || a.cache != "MISS" {
		t.Fatalf("first origin down, second up: %d %s", a.status, a.cache)
	}
}

// TestVODCacheSizeBound: the cache dir stays under its size while a
// working set three times larger is read.
func TestVODCacheSizeBound(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "vod"), 0o755)
	const size = 8 << 20
	var names []string
	for i := range 8 {
		b := make([]byte, 3<<20+i*1000)
		rand.Read(b)
		name := fmt.Sprintf("f%d.bin", i)
		os.WriteFile(filepath.Join(dir, "vod", name), b, 0o644)
		names = append(names, name)
	}
	origin := startNginx(t, dir)
	cacheDir := t.TempDir()
	edge := startVODEdge(t, cacheDir, size, origin.url)
	for round := range 2 {
		for _, name := range names {
			if a := vodGet(t, edge.baseURL()+"/vod/"+name); a.status != 200 {
				t.Fatalf("%s: %d", name, a.status)
			}
			if n := diskUse(t, cacheDir); n > size {
				t.Fatalf("round %d, after %s: the cache dir takes %d bytes, its size is %d", round, name, n, size)
			}
		}
	}
}

// diskUse is the disk the files under dir take (blocks, as du counts).
func diskUse(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && !info.IsDir() {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// TestStoredFileNeverPulledLive: an edge whose live origin also serves
// stored files does not pull one as a live stream (it would end and be
// pulled again, an endless loop): a 404 without a VOD prefix for it, the
// file itself with one.
func TestStoredFileNeverPulledLive(t *testing.T) {
	media := vodMedia(t, 1<<10)
	ingest := startServer(t, Ingest, func(c *config.Config) {
		c.VOD.Roots = []config.VODRoot{{Prefix: "/vod", Dir: filepath.Join(media, "vod")}}
	})
	live := startServer(t, Edge, func(c *config.Config) { fastUpstream(c, ingest.baseURL()) })
	if a := vodGet(t, live.baseURL()+"/vod/film.flv"); a.status != http.StatusNotFound {
		t.Fatalf("a stored file asked of a live-only edge: %d, %d bytes", a.status, len(a.body))
	}
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, ingest.baseURL())
		c.VOD.Origins = []config.VODOrigin{{Prefix: "/vod", URLs: []string{ingest.baseURL()}}}
		c.VOD.Cache.Dir = t.TempDir()
	})
	file, _ := os.ReadFile(filepath.Join(media, "vod", "film.flv"))
	if a := vodGet(t, edge.baseURL()+"/vod/film.flv"); a.status != 200 || !bytes.Equal(a.body, file) {
		t.Fatalf("a stored file under a VOD prefix: %d, %d bytes of %d", a.status, len(a.body), len(file))
	}
}

// TestVODCacheTokens: signed URLs guard cached files as local ones; a
// refused request does not reach the origin.
func TestVODCacheTokens(t *testing.T) {
	media := vodMedia(t, 1<<10)
	origin := startNginx(t, media)
	edge := startServer(t, Edge, func(c *config.Config) {
		c.VOD.Origins = []config.VODOrigin{{Prefix: "/vod", URLs: []string{origin.url}}}
		c.VOD.Cache.Dir = t.TempDir()
		c.Access.SecureTokenSecrets = []string{"s3cret"}
	})
	if a := vodGet(t, edge.baseURL()+"/vod/film.flv"); a.status != http.StatusForbidden {
		t.Fatalf("without a token: %d", a.status)
	}
	if n, _ := origin.requests("/vod/film.flv"); n != 0 {
		t.Fatalf("a refused request cost the origin %d requests", n)
	}
	rule := auth.TokenRule{Scheme: auth.MD5, Secrets: []string{"s3cret"}}
	signed, err := rule.Sign("/vod/film.flv", time.Now().Add(time.Hour), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if a := vodGet(t, edge.baseURL()+"/vod/film.flv?"+signed.Query()); a.status != 200 || a.cache != "MISS" {
		t.Fatalf("signed %s: %d %s", signed, a.status, a.cache)
	}
}

// TestVODCacheReload: a reload changes the origins of a prefix for the
// requests that come from now on, and the cached files stay; a reload
// that is refused changes nothing.
func TestVODCacheReload(t *testing.T) {
	media := vodMedia(t, 1<<10)
	first := startNginx(t, media)
	other := t.TempDir()
	os.Mkdir(filepath.Join(other, "vod"), 0o755)
	os.WriteFile(filepath.Join(other, "vod", "new.bin"), []byte("only on the second origin"), 0o644)
	second := startNginx(t, other)
	edge := startVODEdge(t, t.TempDir(), 2<<30, first.url)
	if a := vodGet(t, edge.baseURL()+"/vod/film.flv"); a.status != 200 || a.cache != "MISS" {
		t.Fatalf("%d %s", a.status, a.cache)
	}
	if a := vodGet(t, edge.baseURL()+"/vod/new.bin"); a.status != 404 {
		t.Fatalf("before the reload: %d", a.status)
	}
	cfg := *edge.cfg.Load()
	cfg.VOD.Origins = []config.VODOrigin{{Prefix: "/vod", URLs: []string{second.url}}}
	bad := cfg
	bad.VOD.Roots = []config.VODRoot{{Prefix: "/local", Dir: filepath.Join(other, "none")}}
	if err := edge.apply(bad, edge.logger); err == nil {
		t.Fatal("a root that does not exist was taken")
	}
	if a := vodGet(t, edge.baseURL()+"/vod/new.bin"); a.status != 404 {
		t.Fatalf("after a refused reload: %d, the origins changed", a.status)
	}
	if err := edge.apply(cfg, edge.logger); err != nil {
		t.Fatal(err)
	}
	if a := vodGet(t, edge.baseURL()+"/vod/new.bin"); a.status != 200 || string(a.body) != "only on the second origin" {
		t.Fatalf("after the reload: %d %q", a.status, a.body)
	}
	if a := vodGet(t, edge.baseURL()+"/vod/film.flv"); a.status != 200 || a.cache != "HIT" {
		t.Fatalf("a cached file after the reload: %d %s", a.status, a.cache)
	}
}

// TestVODCacheRevalidatesWithNginx: an expired file is revalidated with
// nginx's validators (304: REVALIDATED), a file changed at the origin is
// fetched anew (EXPIRED), never mixed with the old one, and with the
// origin down an expired file is served STALE.
func TestVODCacheRevalidatesWithNginx(t *testing.T) {
	media := vodMedia(t, 2<<20)
	origin := startNginx(t, media)
	edge := startServer(t, Edge, func(c *config.Config) {
		c.VOD.Origins = []config.VODOrigin{{Prefix: "/vod", URLs: []string{origin.url}}}
		c.VOD.Cache.Dir = t.TempDir()
		c.VOD.Cache.DefaultLifetime = time.Millisecond // nginx sends no Cache-Control here
		c.VOD.Extensions = []string{".bin"}
	})
	url := edge.baseURL() + "/vod/big.bin"
	if a := vodGet(t, url, "Range", "bytes=0-9"); a.cache != "MISS" {
		t.Fatalf("first: %s", a.cache)
	}
	time.Sleep(5 * time.Millisecond) // past the lifetime
	if a := vodGet(t, url, "Range", "bytes=0-9"); a.cache != "REVALIDATED" || a.status != 206 {
		t.Fatalf("expired, unchanged: %d %s", a.status, a.cache)
	}
	changed := make([]byte, 3<<20)
	rand.Read(changed)
	os.WriteFile(filepath.Join(media, "vod", "big.bin"), changed, 0o644)
	os.Chtimes(filepath.Join(media, "vod", "big.bin"), time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	time.Sleep(5 * time.Millisecond)
	a := vodGet(t, url)
	if a.cache != "EXPIRED" || !bytes.Equal(a.body, changed) {
		t.Fatalf("expired, changed: %s, %d bytes, equal %v", a.cache, len(a.body), bytes.Equal(a.body, changed))
	}
	origin.stop()
	time.Sleep(5 * time.Millisecond)
	if a := vodGet(t, url); a.cache != "STALE" || !bytes.Equal(a.body, changed) {
		t.Fatalf("expired, origin down (stale_if_error 24h): %d %s", a.status, a.cache)
	}
}
