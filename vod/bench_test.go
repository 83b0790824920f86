package vod

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/flv/index"
	"github.com/flvedge/flvedge/internal/testutil"
)

// The seeking benchmark runs the server in a process of its own (this test
// binary, started again with benchServeEnv set), so that the CPU time and
// the memory it reports are the server's alone, not the clients'.
const benchServeEnv = "FLVEDGE_VOD_BENCH_SERVE"

// serveForBench is the benchmark's server process: it serves dir at /vod on
// loopback, prints its address, and exits when its standard input closes.
func serveForBench(dir string) {
	h, err := New(Config{Roots: []Root{{Prefix: "/vod", Dir: dir}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	os.Exit(0)
}

// BenchmarkSeekingViewers has 200 viewers seek at random in a 1 GB FLV
// file, 8 times each, reading 4 MiB from every place, and reports the
// server's CPU time per GB delivered and its resident memory:
//
//	go test -run '^$' -bench SeekingViewers -benchtime 1x -timeout 30m ./vod
//
// The file is made at run time in a temporary directory (about 34 minutes
// of 720p H.264 at 4 Mbit/s and AAC, looped from 10 s that ffmpeg encodes),
// without a keyframe index; a copy with the index the server would build is
// served as stored, for comparison. The ways of seeking:
//
//   - plain-range: Range requests from keyframe positions of the indexed
//     copy, which is sent as stored (sendfile);
//   - virtual-range: the same on the file without index, sent as a
//     virtual file with the index in front (sendfile after it);
//   - start: ?start=<any byte offset>, moved to the next keyframe, with
//     onMetaData and sequence headers in front (sendfile after them);
//   - clip: ?t=<start>,<start+60>, a clip whose timestamps are rewritten
//     as it is read (no sendfile).
func BenchmarkSeekingViewers(b *testing.B) {
	const seeks = 8
	dir := b.TempDir()
	plain, indexed := makeBenchFiles(b, dir)
	ix := benchIndex(b, filepath.Join(dir, plain))
	b.Run("index-build", func(b *testing.B) {
		// One scan of the file without index, as the first request for it
		// makes (the file is in the page cache by now).
		for range b.N {
			benchIndex(b, filepath.Join(dir, plain))
		}
		b.ReportMetric(float64(len(ix.positions)), "keyframes")
	})
	for _, mode := range []string{"plain-range", "virtual-range", "start", "clip"} {
		b.Run(mode, func(b *testing.B) {
			srv := startBenchServer(b, dir)
			name := plain
			if mode == "plain-range" {
				name = indexed
			}
			url := "http://" + srv.addr + "/vod/" + name
			// The first request builds the index; it is not measured.
			if resp, err := http.Get(url + "?start=1000"); err != nil {
				b.Fatal(err)
			} else {
				resp.Body.Close()
			}
			request := func(rng *rand.Rand) *http.Request {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				switch mode {
				case "plain-range", "virtual-range":
					k := rng.IntN(len(ix.positions))
					req.Header.Set("Range", "bytes="+strconv.FormatInt(ix.positions[k], 10)+"-")
				case "start":
					// Anywhere before the last keyframe; after it is a 416.
					req.URL.RawQuery = "start=" + strconv.FormatInt(rng.Int64N(ix.positions[len(ix.positions)-1]), 10)
				case "clip":
					t := rng.IntN(ix.seconds - 120)
					req.URL.RawQuery = fmt.Sprintf("t=%d,%d", t, t+60)
				}
				return req
			}
			b.ResetTimer()
			var bytes int64
			cpu0 := srv.cpu(b)
			start := time.Now()
			for range b.N {
				bytes += runViewers(b, 200, seeks, 4<<20, request)
			}
			elapsed := time.Since(start)
			cpu := srv.cpu(b) - cpu0
			b.StopTimer()
			gb := float64(bytes) / 1e9
			b.ReportMetric(cpu.Seconds()/gb, "cpu-s/GB")
			b.ReportMetric(float64(srv.peakRSS.Load())/(1<<20), "MiB-rss")
			b.ReportMetric(gb/elapsed.Seconds(), "GB/s")
			b.ReportMetric(float64(200*seeks*b.N)/elapsed.Seconds(), "seeks/s")
		})
	}
}

// runViewers has n viewers seek seeks times each, reading up to per bytes
// of every response, and returns the bytes read.
func runViewers(b *testing.B, n, seeks int, per int64, request func(*rand.Rand) *http.Request) int64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var total atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			buf := make([]byte, 64<<10)
			for range seeks {
				resp, err := client.Do(request(rng))
				if err != nil {
					b.Error(err)
					return
				}
				if resp.StatusCode != 200 && resp.StatusCode != 206 {
					b.Errorf("status %d", resp.StatusCode)
				}
				got, _ := io.CopyBuffer(io.Discard, struct{ io.Reader }{io.LimitReader(resp.Body, per)}, buf)
				resp.Body.Close()
				total.Add(got)
			}
		})
	}
	wg.Wait()
	return total.Load()
}

type benchServer struct {
	cmd     *exec.Cmd
	addr    string
	stdin   io.WriteCloser
	peakRSS atomic.Int64
}

// startBenchServer starts the server process and samples its resident
// memory until the benchmark ends.
func startBenchServer(b *testing.B, dir string) *benchServer {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServeEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		b.Fatal(err)
	}
	s := &benchServer{cmd: cmd, addr: strings.TrimSpace(addr), stdin: stdin}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if rss := s.rss(); rss > s.peakRSS.Load() {
				s.peakRSS.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	b.Cleanup(func() {
		close(stop)
		<-done
		stdin.Close()
		cmd.Wait()
	})
	return s
}

// cpu returns the user and system CPU time the server process has used.
func (s *benchServer) cpu(b *testing.B) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// rss returns the server's resident memory in bytes.
func (s *benchServer) rss() int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// makeBenchFiles writes the 1 GB file without index and its copy with
// one, and returns their names.
func makeBenchFiles(b *testing.B, dir string) (plain, indexed string) {
	b.Helper()
	seg := filepath.Join(dir, "segment.flv")
	out, err := exec.Command(testutil.RequireTool(b, "ffmpeg", "ffmpeg"), "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-maxrate", "4M", "-bufsize", "4M",
		"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-t", "10", "-f", "flv", seg).CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	_, tags := parseFLV(b, readFile(b, seg))
	plain, indexed = "big.flv", "big-indexed.flv"
	f, err := os.Create(filepath.Join(dir, plain))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(flv.AppendHeader(nil, true, true))
	var buf []byte
	var size int64
	var offset uint32
	for loop := 0; size < 1e9; loop++ {
		var last uint32
		for i, tag := range tags {
			// The onMetaData and sequence headers once, the frames looped.
			if loop > 0 && (i == 0 || flv.IsSequenceHeader(tag.Tag)) {
				continue
			}
			tag.Timestamp += offset
			last = max(last, tag.Timestamp)
			buf = flv.AppendTag(buf[:0], tag.Tag)
			w.Write(buf)
			size += int64(len(buf))
		}
		offset = last + 40
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	// The indexed copy is the virtual file the server makes of the first.
	src, err := os.Open(filepath.Join(dir, plain))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	st, _ := src.Stat()
	s, err := index.ScanFile(src, st.Size(), index.AllTracks)
	if err != nil {
		b.Fatal(err)
	}
	ix := buildIndex(s)
	dst, err := os.Create(filepath.Join(dir, indexed))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, newVirtualFile(src, &ix.whole, ix)); err != nil {
		b.Fatal(err)
	}
	dst.Close()
	os.Remove(seg)
	return plain, indexed
}

// benchFacts is what the viewers need to know of the file to seek in it:
// its keyframe positions as served, its size and duration.
type benchFacts struct {
	positions []int64
	size      int64
	seconds   int
}

func benchIndex(b *testing.B, path string) benchFacts {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	s, err := index.ScanFile(f, st.Size(), index.AllTracks)
	if err != nil {
		b.Fatal(err)
	}
	ix := buildIndex(s)
	facts := benchFacts{size: ix.whole.size, seconds: int(s.EndTs / 1000)}
	for _, p := range s.Video {
		if p.Kind == index.PointKeyframe {
			v, _ := ix.whole.virtualOf(p.Pos)
			facts.positions = append(facts.positions, v)
		}
	}
	return facts
}

// virtualOf returns the offset in l of stored offset foff.
func (l *layout) virtualOf(foff int64) (int64, bool) {
	for _, p := range l.parts {
		if p.mem == nil && foff >= p.foff && foff < p.foff+p.n {
			return p.off + foff - p.foff, true
		}
	}
	return 0, false
}
