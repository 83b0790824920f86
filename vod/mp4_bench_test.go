package vod

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/mp4"
)

// BenchmarkMP4Clips measures clip requests per second on a 1 GB MP4 file,
// with the parsed moov cached (warm) and parsed again for every request
// (cold: a cache too small to keep it):
//
//	go test -run '^$' -bench MP4Clips -benchtime 200x -timeout 30m ./vod
//
// The file is made at run time in a temporary directory: 10 s of 720p
// H.264 at 4 Mbit/s and AAC that ffmpeg encodes, looped with -c copy to
// 1 GB (about 33 minutes, moov at the end). Four clients on loopback ask
// for 10-second clips at random starts (?start=&end=), reading the whole
// clip (about 5 MB: the moov, then the stored media with sendfile) or only
// its first 64 KiB (a Range request: the moov and some media, which shows
// what planning a clip costs). The server runs in the benchmark's process
// and shares the machine's cores with the clients.
func BenchmarkMP4Clips(b *testing.B) {
	dir := b.TempDir()
	name := makeBigMP4(b, dir)
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	movie, err := mp4.Parse(f, st.Size(), nil)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	seconds := int(movie.Duration / uint64(movie.Timescale))
	b.Run("parse-moov", func(b *testing.B) {
		// What a cold request adds: reading and parsing the moov (the
		// file is in the page cache by now).
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		for b.Loop() {
			if _, err := mp4.Parse(f, st.Size(), nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(movie.Moov.Size())/(1<<20), "MiB-moov")
		b.ReportMetric(float64(movie.MemSize())/(1<<20), "MiB-cached")
	})
	for _, cache := range []string{"warm", "cold"} {
		for _, read := range []string{"whole", "first-64KiB"} {
			b.Run(cache+"/"+read, func(b *testing.B) {
				cfg := Config{Roots: []Root{{Prefix: "/vod", Dir: dir}}, Extensions: []string{".mp4"}}
				if cache == "cold" {
					cfg.IndexCacheBytes = 1
				}
				h, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(h)
				defer srv.Close()
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true}}
				defer client.CloseIdleConnections()
				url := srv.URL + "/vod/" + name
				get := func(rng *rand.Rand, buf []byte) int64 {
					s := rng.IntN(seconds - 20)
					req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s?start=%d.%d&end=%d.%d", url, s, rng.IntN(10), s+10, rng.IntN(10)), nil)
					if read != "whole" {
						req.Header.Set("Range", "bytes=0-65535")
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return 0
					}
					defer resp.Body.Close()
					if resp.StatusCode != 200 && resp.StatusCode != 206 {
						b.Errorf("status %d", resp.StatusCode)
					}
					n, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf)
					return n
				}
				// The first request reads the file's moov into the cache
				// (warm) and the page cache; it is not measured.
				get(rand.New(rand.NewPCG(0, 0)), make([]byte, 64<<10))
				b.SetParallelism(2) // 2 × GOMAXPROCS clients
				var total atomic.Int64
				var seed atomic.Uint64
				start := time.Now()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					rng := rand.New(rand.NewPCG(seed.Add(1), 1))
					buf := make([]byte, 64<<10)
					var n int64
					for pb.Next() {
						n += get(rng, buf)
					}
					total.Add(n)
				})
				elapsed := time.Since(start)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(total.Load())/1e6/elapsed.Seconds(), "MB/s")
			})
		}
	}
}

// makeBigMP4 writes the 1 GB file and returns its name.
func makeBigMP4(b *testing.B, dir string) string {
	b.Helper()
	ffmpeg := testutil.RequireTool(b, "ffmpeg", "ffmpeg")
	seg := filepath.Join(dir, "segment.mp4")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "4M",
		"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-t", "10", seg).CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	st, err := os.Stat(seg)
	if err != nil {
		b.Fatal(err)
	}
	loops := int(1e9/st.Size()) + 1
	const name = "big.mp4"
	out, err = exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", strconv.Itoa(loops-1),
		"-i", seg, "-c", "copy", filepath.Join(dir, name)).CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	os.Remove(seg)
	return name
}
