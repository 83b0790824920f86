package load

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
)

// vodFile writes size bytes of a fixed pseudo-random sequence and returns
// them with the file's path.
func vodFile(t *testing.T, size int) ([]byte, string) {
	t.Helper()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "film.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data, path
}

// rangeLog records the ranges each connection asked for, in order.
type rangeLog struct {
	mu     sync.Mutex
	byConn map[string][]string
}

func (l *rangeLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byConn == nil {
		l.byConn = make(map[string][]string)
	}
	l.byConn[r.RemoteAddr] = append(l.byConn[r.RemoteAddr], r.Header.Get("Range"))
}

// vodServer serves data as a stored file with Range, as a cache would,
// with X-Cache-Status; wrong, when set, may spoil the answers to ranges
// that do not start at 0 (the probe's is always right).
func vodServer(t *testing.T, data []byte, log *rangeLog, wrong func(w http.ResponseWriter, r *http.Request, first int64) bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/vod/film.bin" {
			http.NotFound(w, r)
			return
		}
		if log != nil {
			log.add(r)
		}
		w.Header().Set("X-Cache-Status", "HIT")
		if first, _, err := parseRangeSpec(r.Header.Get("Range")); err == nil && first > 0 && wrong != nil && wrong(w, r, first) {
			return
		}
		http.ServeContent(w, r, "film.bin", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/vod/film.bin"
}

func TestRunVOD(t *testing.T) {
	t.Parallel()
	const size, rangeSize = 3<<20 + 12345, 256 << 10
	data, path := vodFile(t, size)
	for _, sequential := range []bool{false, true} {
		t.Run(map[bool]string{false: "random", true: "sequential"}[sequential], func(t *testing.T) {
			var log rangeLog
			url := vodServer(t, data, &log, nil)
			var progress testutil.SyncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rep, err := RunVOD(ctx, VODConfig{URL: url, Readers: 4, RangeSize: rangeSize, Sequential: sequential,
				Verify: path, Ramp: 100 * time.Millisecond, Duration: 1500 * time.Millisecond, PID: os.Getpid(), Progress: &progress})
			if err != nil {
				t.Fatal(err)
			}
			if rep.FileSize != size || rep.Launched != 4 || rep.Interrupted {
				t.Errorf("size %d, launched %d, interrupted %t", rep.FileSize, rep.Launched, rep.Interrupted)
			}
			if rep.Errors != 0 || rep.Reconnects != 0 {
				t.Errorf("%d errors %v, %d reconnections", rep.Errors, rep.Failures, rep.Reconnects)
			}
			if d := rep.Delivered; rep.Requests == 0 || d.Bytes < rep.Requests*rangeSize/2 || d.TotalGbps <= 0 || d.PerReaderMinMbps <= 0 {
				t.Errorf("%d requests, delivered %+v", rep.Requests, d)
			}
			// Bytes of answers cut by the end of the run are counted too,
			// but compared with the file like the others.
			if rep.VerifiedBytes < rep.Delivered.Bytes {
				t.Errorf("verified %d of %d bytes", rep.VerifiedBytes, rep.Delivered.Bytes)
			}
			if len(rep.CacheStatus) != 1 || rep.CacheStatus["HIT"] != rep.Requests {
				t.Errorf("cache statuses %v for %d requests", rep.CacheStatus, rep.Requests)
			}
			if l := rep.Latency; l.Count == 0 || l.P50 <= 0 || l.P50 > l.P99 || rep.FirstByte.P50 > l.P50 {
				t.Errorf("latency %+v, first byte %+v", l, rep.FirstByte)
			}
			if s := rep.Server; s == nil || s.Error != "" || s.CPUSeconds <= 0 || s.CPUSecondsPerGB <= 0 || s.RSSBytes <= 0 {
				t.Errorf("server %+v", s)
			}
			if !strings.Contains(progress.String(), "readers 4/4") {
				t.Errorf("progress:\n%s", progress.String())
			}
			var table strings.Builder
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"X-Cache-Status  HIT ", "errors          0,", "verified ", "CPU-s/GB delivered", "per reader"} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("no %q in the table:\n%s", want, table.String())
				}
			}
			checkRanges(t, &log, size, rangeSize, sequential)
		})
	}
}

// checkRanges checks what the readers asked for: whole ranges of the file,
// consecutive on each connection when sequential, spread when random.
func checkRanges(t *testing.T, log *rangeLog, size, rangeSize int64, sequential bool) {
	t.Helper()
	log.mu.Lock()
	defer log.mu.Unlock()
	starts := make(map[int64]bool)
	total := 0
	for conn, ranges := range log.byConn {
		total += len(ranges)
		next := int64(-1)
		for _, spec := range ranges {
			first, last, err := parseRangeSpec(spec)
			if err != nil {
				t.Fatalf("%s: %q: %v", conn, spec, err)
			}
			if last-first+1 != rangeSize && last != size-1 || last >= size {
				t.Errorf("%s: %q in a file of %d", conn, spec, size)
			}
			if sequential && next >= 0 && first != next {
				t.Errorf("%s: %q after a range that ended before %d", conn, spec, next)
			}
			if next = last + 1; next == size {
				next = 0
			}
			starts[first] = true
		}
	}
	// Among some three million offsets, random ones hardly meet.
	if !sequential && (len(starts) < 2 || len(starts) < total*9/10) {
		t.Errorf("%d random ranges start at %d places only", total, len(starts))
	}
}

// parseRangeSpec reads a request's "bytes=FIRST-LAST".
func parseRangeSpec(spec string) (first, last int64, err error) {
	rest, _ := strings.CutPrefix(spec, "bytes=")
	a, b, _ := strings.Cut(rest, "-")
	if first, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, err
	}
	last, err = strconv.ParseInt(b, 10, 64)
	return first, last, err
}

// Every way an answer can be wrong is counted as an error, under its own
// cause; a server that closes after each answer is not wrong.
func TestRunVODFindsWrongAnswers(t *testing.T) {
	t.Parallel()
	const size, rangeSize = 1 << 20, 64 << 10
	data, path := vodFile(t, size)
	for _, tc := range []struct {
		cause string
		wrong func(w http.ResponseWriter, r *http.Request, first int64) bool
	}{
		{"http status 200", func(w http.ResponseWriter, r *http.Request, first int64) bool {
			r.Header.Del("Range")
			return false
		}},
		{"wrong Content-Range", func(w http.ResponseWriter, r *http.Request, first int64) bool {
			r.Header.Set("Range", "bytes="+strconv.FormatInt(first-1, 10)+"-"+strconv.FormatInt(first+rangeSize-2, 10))
			return false
		}},
		{"wrong bytes", func(w http.ResponseWriter, r *http.Request, first int64) bool {
			spoilt := bytes.Clone(data)
			spoilt[min(first+1000, size-1)] ^= 0x40
			http.ServeContent(w, r, "film.bin", time.Time{}, bytes.NewReader(spoilt))
			return true
		}},
		{"closed inside the body", func(w http.ResponseWriter, r *http.Request, first int64) bool {
			w.Header().Set("Content-Range", "bytes "+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(min(first+rangeSize, size)-1, 10)+"/"+strconv.Itoa(size))
			w.Header().Set("Content-Length", strconv.FormatInt(min(rangeSize, size-first), 10))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[first : first+10])
			return true
		}},
		{"", func(w http.ResponseWriter, r *http.Request, first int64) bool {
			w.Header().Set("Connection", "close")
			return false
		}},
	} {
		t.Run(tc.cause, func(t *testing.T) {
			t.Parallel()
			url := vodServer(t, data, nil, tc.wrong)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rep, err := RunVOD(ctx, VODConfig{URL: url, Readers: 2, RangeSize: rangeSize, Verify: path, Duration: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if tc.cause == "" {
				if rep.Errors != 0 || rep.Reconnects == 0 || rep.Requests == 0 {
					t.Errorf("%d errors %v, %d reconnections, %d requests", rep.Errors, rep.Failures, rep.Reconnects, rep.Requests)
				}
				return
			}
			if rep.Errors == 0 || rep.Failures[tc.cause].Count == 0 || int64(rep.Failures[tc.cause].Count) != rep.Errors {
				t.Errorf("%d errors: %v, want them all %q", rep.Errors, rep.Failures, tc.cause)
			}
		})
	}
}

func TestRunVODRefusesAtOnce(t *testing.T) {
	t.Parallel()
	data, _ := vodFile(t, 1000)
	url := vodServer(t, data, nil, nil)
	_, otherPath := vodFile(t, 999)
	_, shortPath := vodFile(t, 10)
	for _, tc := range []struct {
		cfg VODConfig
		err string
	}{
		{VODConfig{URL: strings.Replace(url, "film", "none", 1)}, "http status 404"},
		{VODConfig{URL: url, Verify: otherPath}, "the server's file is 1000 bytes, the local copy 999"},
		// A range past the end of the local copy is not compared with it.
		{VODConfig{URL: url, Verify: shortPath, RangeSize: 1000}, "the server's file is 1000 bytes, the local copy 10"},
		{VODConfig{URL: url, Verify: filepath.Join(t.TempDir(), "missing")}, "verify: "},
		{VODConfig{URL: url, Readers: 0}, "0 readers"},
		{VODConfig{URL: url, RangeSize: -1}, "range size"},
		{VODConfig{URL: "https://" + strings.TrimPrefix(url, "http://")}, "scheme"},
	} {
		cfg := tc.cfg
		if cfg.Readers == 0 && tc.err != "0 readers" {
			cfg.Readers = 1
		}
		if cfg.RangeSize == 0 {
			cfg.RangeSize = 100
		}
		cfg.Duration = time.Second
		if _, err := RunVOD(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: error %v, want one with %q", tc.cfg, err, tc.err)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string]contentRange{
		"bytes 0-99/100":            {0, 99, 100},
		"bytes 5-5/6":               {5, 5, 6},
		"bytes 1048576-2097151/2e9": {},
		"bytes 10-20/*":             {},
		"bytes 20-10/100":           {},
		"bytes 0-100/100":           {},
		"bytes -1-5/10":             {},
		"bytes +1-5/10":             {},
		"bytes=0-5/10":              {},
		"bytes 0-5":                 {},
		"":                          {},
		"bytes 0-99999999999999999999/100000000000000000000": {},
	} {
		got, err := parseContentRange(in)
		if want == (contentRange{}) {
			if err == nil {
				t.Errorf("%q: no error (%+v)", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
}

func FuzzContentRange(f *testing.F) {
	for _, seed := range []string{"bytes 0-99/100", "bytes 10-20/*", "bytes 1-/5", "bytes 9223372036854775807-9223372036854775807/9223372036854775807"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cr, err := parseContentRange(s)
		if err == nil && (cr.first < 0 || cr.first > cr.last || cr.last >= cr.total) {
			t.Errorf("%q: %+v", s, cr)
		}
	})
}
