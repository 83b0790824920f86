//go:build e2e

package smooth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/browsertest"
)

// TestBrowserSmoothStreaming plays the two-rendition presentation in
// Chromium with dash.js and its Smooth Streaming plugin: frames are
// decoded from the start, and again after a seek to the middle, which the
// player reaches by asking for the fragments there.
func TestBrowserSmoothStreaming(t *testing.T) {
	browsertest.RequireDash(t)
	s := newSmoothServer(t)

	var mu sync.Mutex
	var paths []string
	mux := http.NewServeMux()
	assets := browsertest.Assets()
	mux.Handle("/dash.all.min.js", assets)
	mux.Handle("/dash.mss.min.js", assets)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /smooth.html", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("testdata", "smooth.html"))
	})
	mux.Handle("/vod/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		s.h.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	raw := browsertest.Run(t, srv.URL+"/smooth.html?src=/vod/film.ism/Manifest", 90*time.Second)
	t.Logf("page: %s", raw)
	var res struct {
		Error            string
		Duration, Target float64
		Before, After    struct{ Time, Frames float64 }
		FramesAtSeek     float64
		Width, Height    int
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if res.Error != "" {
		t.Fatalf("page: %s", res.Error)
	}
	if res.Duration < 7.9 || res.Duration > 8.2 || res.Before.Frames <= 10 || res.After.Time < res.Target+1 || res.After.Frames <= res.FramesAtSeek {
		t.Fatalf("playback: %+v", res)
	}
	if !(res.Width == 320 && res.Height == 240) && !(res.Width == 192 && res.Height == 144) {
		t.Fatalf("picture of %dx%d", res.Width, res.Height)
	}
	// The player fetched audio and video fragments at the middle, where it
	// seeked to, through the URLs of the manifest.
	mu.Lock()
	defer mu.Unlock()
	var video, audio bool
	for _, p := range paths {
		_, frag, ok := strings.Cut(p, "/Fragments(")
		if !ok {
			continue
		}
		kind, at, _ := strings.Cut(strings.TrimSuffix(frag, ")"), "=")
		tm, err := strconv.ParseUint(at, 10, 64)
		if err != nil {
			t.Fatalf("fragment request %s", p)
		}
		sec := float64(tm) / 1e7
		if sec >= res.Target-1.5 && sec <= res.Target+0.5 {
			video = video || kind == "video"
			audio = audio || kind == "audio"
		}
	}
	if !video || !audio {
		t.Fatalf("no video or audio fragment at %v s among %s", res.Target, fmt.Sprint(paths))
	}
}
