//go:build e2e

package vod

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/browsertest"
	"github.com/flvedge/flvedge/vodcache"
)

// TestBrowserSeeksInFileWithoutIndex plays a file that has no keyframe
// index in Chromium with mpegts.js and seeks to its middle: the player
// finds the place through the index the server built, asks for it with a
// Range request, and decodes frames from there.
func TestBrowserSeeksInFileWithoutIndex(t *testing.T) {
	browsertest.Require(t)
	s := newVODServer(t, fixLong)
	browserSeek(t, s, s.h)
}

// TestBrowserSeeksThroughTheCache does the same on an edge that has not
// the file: it comes from an origin of static files (a FileServer, as
// nginx serves them) through the slice cache, and the seek's Range
// request reads the slices it needs.
func TestBrowserSeeksThroughTheCache(t *testing.T) {
	browsertest.Require(t)
	s := newVODServer(t, fixLong)
	origin := httptest.NewServer(http.FileServer(http.Dir(s.dir)))
	defer origin.Close()
	cache, err := vodcache.New(vodcache.Config{Dir: t.TempDir(), MaxBytes: 64 << 20, SliceSize: 64 << 10,
		Origins: []vodcache.Origin{{Prefix: "/vod", URLs: []string{origin.URL + "/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	h, err := New(Config{Roots: []Root{{Prefix: "/vod", Source: SourceOf(cache.Open)}}})
	if err != nil {
		t.Fatal(err)
	}
	statuses := browserSeek(t, s, h)
	if !slices.Contains(statuses, "MISS") || slices.ContainsFunc(statuses, func(s string) bool { return s != "MISS" && s != "HIT" }) {
		t.Fatalf("X-Cache-Status of the player's requests: %q", statuses)
	}
}

// browserSeek plays fixLong from h in Chromium, seeks to its middle and
// checks the seek, comparing with what s serves. It returns the
// X-Cache-Status of h's answers.
func browserSeek(t *testing.T, s *vodServer, h http.Handler) []string {
	_, whole := s.get(t, "/vod/"+fixLong)
	_, tags := parseFLV(t, whole)
	positions, times := keyframesOf(t, metaOf(t, tags))

	var mu sync.Mutex
	var ranges, statuses []string
	mux := http.NewServeMux()
	mux.Handle("/mpegts.js", browsertest.Assets())
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /seek.html", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("testdata", "seek.html"))
	})
	mux.Handle("/vod/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		// Deferred: the player cancels its first request when it seeks,
		// and the handler aborts that answer, cut short of its length.
		defer func() {
			mu.Lock()
			statuses = append(statuses, w.Header().Get(CacheStatusHeader))
			mu.Unlock()
		}()
		h.ServeHTTP(slowWriter{w}, r)
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	raw := browsertest.Run(t, srv.URL+"/seek.html?src=/vod/"+fixLong, 60*time.Second)
	var res struct {
		Error             string
		Duration, Target  float64
		Before            struct{ Frames, Time, Buffered float64 }
		After             struct{ Frames, Time float64 }
		FramesAtSeek      float64
		HasKeyframesIndex bool
		Width, Height     int
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	t.Logf("page: %s", raw)
	if res.Error != "" {
		t.Fatalf("page: %s", res.Error)
	}
	if !res.HasKeyframesIndex || res.Width != 320 || res.Height != 240 {
		t.Fatalf("media info: index %v, %dx%d", res.HasKeyframesIndex, res.Width, res.Height)
	}
	if res.Duration < 19.5 || res.Duration > 20.2 {
		t.Fatalf("duration %v", res.Duration)
	}
	if res.Before.Buffered >= res.Target {
		t.Fatalf("the middle was buffered before the seek: %+v", res)
	}
	if res.After.Time < res.Target+0.5 || res.After.Frames <= res.FramesAtSeek {
		t.Fatalf("no playback after the seek to %v: %+v", res.Target, res)
	}
	// The seek was a Range request at a keyframe of the index, near the
	// middle: the player did not read its way there.
	mu.Lock()
	defer mu.Unlock()
	var seekedTo float64 = -1
	for _, r := range ranges {
		from, ok := strings.CutPrefix(r, "bytes=")
		if !ok {
			continue
		}
		from, _, _ = strings.Cut(from, "-")
		off, _ := strconv.ParseFloat(from, 64)
		for i, p := range positions {
			if p == off && times[i] >= res.Target-1.5 && times[i] <= res.Target {
				seekedTo = times[i]
			}
		}
	}
	if seekedTo < 0 {
		t.Fatalf("no Range request at a keyframe before %v s: %q", res.Target, ranges)
	}
	return statuses
}

// slowWriter sends about 320 KB/s, a few times the file's bitrate, so that
// the player has buffered only the start when it seeks.
type slowWriter struct{ http.ResponseWriter }

func (w slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := w.ResponseWriter.Write(p[:min(len(p), 16<<10)])
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
		time.Sleep(50 * time.Millisecond)
	}
	return written, nil
}
