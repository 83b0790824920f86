package vod

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"
)

// failingSource is a source's file whose origin fails for every byte from
// failAt on, once the answer's header is out (Ensure, before it, works).
type failingSource struct {
	f      *os.File
	failAt int64
}

func (s failingSource) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }
func (s failingSource) Close() error                            { return nil }
func (s failingSource) ModTime() time.Time                      { return time.Time{} }
func (s failingSource) ETag() string                            { return "" }
func (s failingSource) Status() string                          { return "MISS" }
func (s failingSource) Ensure(int64) error                      { return nil }

func (s failingSource) Size() int64 {
	fi, err := s.f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (s failingSource) Section(off, n int64) (*os.File, error) {
	if off+n > s.failAt {
		return nil, errors.New("origin gone")
	}
	return s.f, nil
}

// A body that ends before its Content-Length, because the origin failed
// after the header had gone out, is aborted (panic(http.ErrAbortHandler),
// which every HTTP version turns into a reset or a closed connection),
// not ended as if it were whole; a HEAD, and a whole body, end normally.
func TestShortBodyIsAborted(t *testing.T) {
	f, err := os.Open(fixture(t, fixAV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		name, method string
		failAt       int64
		wantAbort    bool
	}{
		{"origin fails mid-body", http.MethodGet, 0, true},
		{"whole body", http.MethodGet, 1 << 40, false},
		{"HEAD", http.MethodHead, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := New(Config{Roots: []Root{{Prefix: "/vod", Source: SourceOf(func(context.Context, string) (failingSource, error) {
				return failingSource{f: f, failAt: c.failAt}, nil
			})}}})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			aborted := func() (aborted bool) {
				defer func() {
					if p := recover(); p != nil {
						if p != http.ErrAbortHandler {
							panic(p)
						}
						aborted = true
					}
				}()
				h.ServeHTTP(rec, httptest.NewRequest(c.method, "/vod/"+fixAV, nil))
				return false
			}()
			declared, _ := strconv.Atoi(rec.Header().Get("Content-Length"))
			if rec.Code != http.StatusOK || declared == 0 {
				t.Fatalf("%d, Content-Length %q", rec.Code, rec.Header().Get("Content-Length"))
			}
			if aborted != c.wantAbort {
				t.Fatalf("aborted %v, want %v; %d of %d bytes sent", aborted, c.wantAbort, rec.Body.Len(), declared)
			}
		})
	}
}
