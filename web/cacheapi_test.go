package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/vodcache"
)

// TestCacheAPI: prefetch and purge need the admin token when one is set,
// refuse what is not a list of clean paths under an origin prefix, and
// the stats show what they did.
func TestCacheAPI(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader("stored bytes"))
	}))
	defer origin.Close()
	cache, err := vodcache.New(vodcache.Config{Dir: t.TempDir(), MaxBytes: 64 << 20,
		Origins: []vodcache.Origin{{Prefix: "/vod", URLs: []string{origin.URL}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	next := http.NotFoundHandler()
	h := WithCacheAPI(next, cache, AdminAccess{Token: "s3cret"})
	do := func(method, target, body, token string) int {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Host = "127.0.0.1:9090"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tc := range []struct {
		method, target, body, token string
		want                        int
	}{
		{"POST", "/api/cache/prefetch", `{"paths": ["/vod/a.flv"]}`, "", http.StatusForbidden},
		{"POST", "/api/cache/prefetch", `{"paths": ["/vod/a.flv"]}`, "wrong", http.StatusForbidden},
		{"DELETE", "/api/cache?path=/vod/a.flv", "", "", http.StatusForbidden},
		{"POST", "/api/cache/prefetch", `{"paths": ["/other/a.flv"]}`, "s3cret", http.StatusBadRequest},
		{"POST", "/api/cache/prefetch", `{"paths": ["/vod/../a.flv"]}`, "s3cret", http.StatusBadRequest},
		{"POST", "/api/cache/prefetch", `{"paths": "/vod/a.flv"}`, "s3cret", http.StatusBadRequest},
		{"POST", "/api/cache/prefetch", `{"paths": ["/vod/` + strings.Repeat("a", 70<<10) + `"]}`, "s3cret", http.StatusBadRequest},
		{"DELETE", "/api/cache?path=vod", "", "s3cret", http.StatusBadRequest},
		{"POST", "/api/cache/prefetch", `{"paths": ["/vod/a.flv"]}`, "s3cret", http.StatusAccepted},
		{"GET", "/api/streams", "", "", http.StatusNotFound}, // the rest of the admin routes
	} {
		if got := do(tc.method, tc.target, tc.body, tc.token); got != tc.want {
			t.Errorf("%s %s %.40s: %d, want %d", tc.method, tc.target, tc.body, got, tc.want)
		}
	}
	rebinding := httptest.NewRequest("GET", "/api/cache", nil)
	rebinding.Host = "evil.example"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, rebinding)
	if rec.Code != http.StatusMisdirectedRequest {
		t.Errorf("GET /api/cache with Host evil.example: %d, want 421", rec.Code)
	}
	var st vodcache.Stats
	deadline := time.Now().Add(time.Minute)
	for {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/cache", nil)
		req.Host = "localhost:9090"
		h.ServeHTTP(rec, req)
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		if st.Prefetching == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prefetch did not end: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Entries != 1 {
		t.Fatalf("after prefetch: %+v", st)
	}
	if got := do("DELETE", "/api/cache?path=/vod/", "", "s3cret"); got != 200 || cache.Stats().Entries != 0 {
		t.Fatalf("purge of /vod/: %d, %d entries left", got, cache.Stats().Entries)
	}
}
