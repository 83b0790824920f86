package vod

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/mp4"
	"github.com/flvedge/flvedge/vfile"
)

// The MP4 fixtures: six seconds of 320x240 H.264 at 25 fps with B-frames
// and a keyframe every second, and AAC, as ffmpeg writes them (the picture
// and sound of the FLV fixtures).
const (
	mp4End   = "end.mp4"   // moov at the end
	mp4Remux = "remux.mp4" // end.mp4 through ffmpeg -c copy: the same input as fast.mp4's
	mp4Fast  = "fast.mp4"  // end.mp4 through ffmpeg -c copy -movflags +faststart
	mp4Frag  = "frag.mp4"  // end.mp4 fragmented
)

var mp4FixtureArgs = map[string][]string{
	mp4End: {"-f", "lavfi", "-i", "testsrc=size=96x64:rate=25,pad=320:240:112:96", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k", "-t", "6"},
	mp4Remux: {"-i", "{end.mp4}", "-c", "copy"},
	mp4Fast:  {"-i", "{end.mp4}", "-c", "copy", "-movflags", "+faststart"},
	mp4Frag:  {"-i", "{end.mp4}", "-c", "copy", "-movflags", "+frag_keyframe+empty_moov"},
}

// mp4Fixtures makes them, beside the FLV fixtures.
var mp4Fixtures = &testutil.Fixtures{Args: mp4FixtureArgs}

// mp4Fixture returns the path of an MP4 fixture, making it first if needed.
func mp4Fixture(t testing.TB, name string) string {
	t.Helper()
	return mp4Fixtures.Path(t, name)
}

// newMP4Server serves copies of the named MP4 fixtures at /vod.
func newMP4Server(t *testing.T, names ...string) *vodServer {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		writeFile(t, filepath.Join(dir, n), readFile(t, mp4Fixture(t, n)))
	}
	return serveDir(t, dir, Config{Extensions: []string{".flv", ".mp4"}})
}

// TestMP4Faststart: a file whose moov is at the end is served with the moov
// first, byte for byte what ffmpeg -movflags +faststart writes from the
// same input, with Range and conditional requests on it.
func TestMP4Faststart(t *testing.T) {
	s := newMP4Server(t, mp4Remux)
	want := readFile(t, mp4Fixture(t, mp4Fast))
	resp, body := s.get(t, "/vod/"+mp4Remux)
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("status %d, %d bytes; ffmpeg's faststart has %d (equal: %v)", resp.StatusCode, len(body), len(want), bytes.Equal(body, want))
	}
	checkMP4Ranges(t, s, "/vod/"+mp4Remux, want)
}

// TestMP4StoredWithMoovFirst: a file with its moov first is the stored file.
func TestMP4StoredWithMoovFirst(t *testing.T) {
	s := newMP4Server(t, mp4Fast)
	resp, body := s.get(t, "/vod/"+mp4Fast)
	if resp.StatusCode != 200 || !bytes.Equal(body, readFile(t, mp4Fixture(t, mp4Fast))) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("status %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
}

// TestMP4Clip: ?start=&end= and ?t= give the clip that package mp4 cuts,
// which ffprobe reads and ffmpeg decodes without error, of the duration
// asked, with Range on it.
func TestMP4Clip(t *testing.T) {
	s := newMP4Server(t, mp4End)
	src, err := os.Open(filepath.Join(s.dir, mp4End))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, _ := src.Stat()
	movie, err := mp4.Parse(src, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query      string
		start, end float64 // end 0: the end
	}{
		{"start=1.5&end=3.7", 1.5, 3.7},
		{"t=1.5,3.7", 1.5, 3.7},
		{"start=2", 2, 0},
		{"end=2.5", 0, 2.5},
		{"t=0:02.2", 2.2, 0},
		{"start=5.9", 5.9, 0},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp, body := s.get(t, "/vod/"+mp4End+"?"+c.query)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("status %d, %v", resp.StatusCode, resp.Header)
			}
			l, err := movie.Clip(time.Duration(c.start*1e9), time.Duration(c.end*1e9))
			if err != nil {
				t.Fatal(err)
			}
			want, err := io.ReadAll(vfile.NewReader(l, src))
			if err != nil || !bytes.Equal(body, want) {
				t.Fatalf("body of %d bytes is not the clip of %d (%v)", len(body), len(want), err)
			}
			end := c.end
			if end == 0 {
				end = 6
			}
			checkMP4Clip(t, body, end-c.start)
		})
	}
	t.Run("ranges", func(t *testing.T) {
		_, full := s.get(t, "/vod/"+mp4End+"?start=1.3&end=4.4")
		checkMP4Ranges(t, s, "/vod/"+mp4End+"?start=1.3&end=4.4", full)
	})
}

// TestMP4BadQueries: malformed times are 400s, a clip after the end a 416.
func TestMP4BadQueries(t *testing.T) {
	s := newMP4Server(t, mp4Fast)
	for _, c := range []struct {
		query  string
		status int
	}{
		{"start=abc", 400},
		{"start=-1", 400},
		{"start=1e3", 400},
		{"start=NaN", 400},
		{"start=0x10", 400},
		{"end=inf", 400},
		{"start=2&end=1", 400},
		{"start=2&end=2", 400},
		{"end=0", 400},
		{"t=1&start=2", 400},
		{"t=3,2", 400},
		{"start=6", 416},
		{"start=100000", 416},
		{"start=99999999999999999999", 400},
		{"start=", 200},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp, body := s.get(t, "/vod/"+mp4Fast+"?"+c.query)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.status == 416 && resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(readFile(t, mp4Fixture(t, mp4Fast)))) {
				t.Fatalf("416 with Content-Range %q", resp.Header.Get("Content-Range"))
			}
		})
	}
}

// TestMP4BadFiles: fragmented files are served as stored, whatever the
// query; files that cannot be read are served as stored to plain requests
// and refused with 422 to clips, without a 500 or memory in proportion to
// what they claim.
func TestMP4BadFiles(t *testing.T) {
	dir := t.TempDir()
	fast := readFile(t, mp4Fixture(t, mp4Fast))
	files := map[string][]byte{
		"frag.mp4":      readFile(t, mp4Fixture(t, mp4Frag)),
		"truncated.mp4": fast[:len(fast)/2],
		"text.mp4":      []byte("this is not a video"),
		"empty.mp4":     nil,
		"giant-box.mp4": append([]byte("\x00\x00\x00\x01moov\x3f\xff\xff\xff\xff\xff\xff\xff"), fast[:100]...),
	}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), b)
	}
	// A moov that claims 1 GiB, in a sparse file that has it: over the
	// limit, refused before anything is read.
	huge, err := os.Create(filepath.Join(dir, "huge-moov.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	huge.Write([]byte("\x00\x00\x00\x08free\x40\x00\x00\x00moov"))
	huge.Truncate(8 + 1<<30)
	huge.Close()
	files["huge-moov.mp4"] = nil

	s := serveDir(t, dir, Config{Extensions: []string{".mp4"}})
	for name := range files {
		t.Run(name, func(t *testing.T) {
			stored := files[name]
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp, body := s.get(t, "/vod/"+name+"?start=1&end=2")
			runtime.ReadMemStats(&after)
			want := 422
			if name == "frag.mp4" {
				want = 200
			}
			if resp.StatusCode != want {
				t.Fatalf("clip: status %d, want %d: %s", resp.StatusCode, want, body)
			}
			if want == 200 && !bytes.Equal(body, stored) {
				t.Fatalf("clip of a fragmented file: %d bytes, not the stored %d", len(body), len(stored))
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("the request allocated %d bytes", grew)
			}
			if name == "huge-moov.mp4" {
				return // 1 GiB of zeros as stored: not worth reading here
			}
			resp, body = s.get(t, "/vod/"+name)
			if resp.StatusCode != 200 || !bytes.Equal(body, stored) {
				t.Fatalf("plain: status %d, %d bytes, not the stored %d", resp.StatusCode, len(body), len(stored))
			}
		})
	}
}

// TestMP4CacheParsesOnce: concurrent first requests for a file share one
// parse; a file rewritten in place is parsed again.
func TestMP4CacheParsesOnce(t *testing.T) {
	synctest.Test(t, testMP4CacheParsesOnce)
}

// testMP4CacheParsesOnce knows by synctest.Wait, not a sleep, when every
// request waits for the one parse.
func testMP4CacheParsesOnce(t *testing.T) {
	c := newMovieCache(1<<20, 2)
	var builds atomic.Int32
	release := make(chan struct{})
	build := func() (*movie, error) {
		builds.Add(1)
		<-release
		return &movie{cost: 100}, nil
	}
	key := cacheKey{path: "/a.mp4", size: 10, mtime: 1}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.get(context.Background(), key, build); err != nil {
				t.Error(err)
			}
		})
	}
	synctest.Wait()
	close(release)
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("%d parses for 20 requests", n)
	}
	key.mtime = 2
	if _, err := c.get(context.Background(), key, build); err != nil || builds.Load() != 2 {
		t.Fatalf("a new version: %v, %d parses", err, builds.Load())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lru.Len() != 1 || c.used != 100 {
		t.Fatalf("%d movies of %d bytes kept, want the newest version only", c.lru.Len(), c.used)
	}
}

// checkMP4Ranges runs the Range and conditional table of the FLV tests on
// an MP4 path whose full body is full.
func checkMP4Ranges(t *testing.T, s *vodServer, path string, full []byte) {
	t.Helper()
	resp, _ := s.do(t, http.MethodHead, path)
	etag, lastMod := resp.Header.Get("Etag"), resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Content-Length") != strconv.Itoa(len(full)) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("HEAD %s: %d %v", path, resp.StatusCode, resp.Header)
	}
	for _, c := range rangeCases(int64(len(full)), etag, lastMod) {
		resp, body := s.get(t, path, c.header...)
		if resp.StatusCode != c.status {
			t.Fatalf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
		}
		var parts [][]byte
		switch {
		case len(c.ranges) == 1:
			parts = [][]byte{body}
		case len(c.ranges) > 1:
			_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				parts = append(parts, b)
			}
		}
		if len(parts) != len(c.ranges) {
			t.Fatalf("%s: %d parts, want %d", c.name, len(parts), len(c.ranges))
		}
		for i, r := range c.ranges {
			if !bytes.Equal(parts[i], full[r[0]:r[1]]) {
				t.Fatalf("%s: part %d is not bytes %d-%d", c.name, i, r[0], r[1]-1)
			}
		}
	}
}
