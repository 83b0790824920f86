//go:build e2e

package vod

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/flvedge/flvedge/vodcache"
)

// sourceServer serves the files of dir from an origin of static files
// through the slice cache, as an edge does, and counts the bytes the
// origin sends.
type sourceServer struct {
	*vodServer
	origin  *httptest.Server
	fetched atomic.Int64
}

func newSourceServer(t *testing.T, dir string) *sourceServer {
	t.Helper()
	s := &sourceServer{}
	files := http.FileServer(http.Dir(dir))
	s.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		files.ServeHTTP(countingWriter{w, &s.fetched}, r)
	}))
	t.Cleanup(s.origin.Close)
	cache, err := vodcache.New(vodcache.Config{Dir: t.TempDir(), MaxBytes: 64 << 20, SliceSize: 64 << 10,
		Origins: []vodcache.Origin{{Prefix: "/vod", URLs: []string{s.origin.URL + "/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cache.Close)
	h, err := New(Config{Roots: []Root{{Prefix: "/vod", Source: SourceOf(cache.Open)}}})
	if err != nil {
		t.Fatal(err)
	}
	s.vodServer = &vodServer{dir: dir, h: h, srv: httptest.NewServer(h)}
	t.Cleanup(s.srv.Close)
	return s
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// TestSourceServesAsLocal: every form of a file (whole, Range, ?start=,
// ?t=, MP4 clip) is the same from a source as from a local root (Smooth
// Streaming's answers are compared in package smooth), and a
// seek into a file with a keyframe index costs the origin a few slices,
// not the file.
func TestSourceServesAsLocal(t *testing.T) {
	local := newVODServer(t, fixLong, fixAV)
	// indexed.flv is long.flv with the index package vod gives it.
	_, indexed := local.get(t, "/vod/"+fixLong)
	if err := os.WriteFile(filepath.Join(local.dir, "indexed.flv"), indexed, 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(local.dir, mp4End), readFile(t, mp4Fixture(t, mp4End)))
	src := newSourceServer(t, local.dir)

	_, body := src.get(t, fmt.Sprintf("/vod/indexed.flv?start=%d", len(indexed)*3/4))
	if fetched := src.fetched.Load(); fetched > int64(len(indexed))/2 {
		t.Fatalf("a seek to 3/4 of an indexed file fetched %d of its %d bytes", fetched, len(indexed))
	}
	if _, want := local.get(t, fmt.Sprintf("/vod/indexed.flv?start=%d", len(indexed)*3/4)); !bytes.Equal(body, want) {
		t.Fatalf("?start= through the source: %d bytes, locally %d", len(body), len(want))
	}
	for _, tc := range []struct{ path, rng string }{
		{"/vod/indexed.flv", ""},
		{"/vod/indexed.flv", "bytes=100000-"},
		{"/vod/indexed.flv?t=5,8", ""},
		{"/vod/indexed.flv?t=15", ""},
		{"/vod/indexed.flv?start=200000", "bytes=1000-5000"},
		{"/vod/" + fixLong, ""},
		{"/vod/" + fixLong + "?start=300000", ""},
		{"/vod/" + fixAV + "?t=1", ""},
		{"/vod/" + mp4End, ""},
		{"/vod/" + mp4End + "?start=2&end=4", "bytes=100-"},
	} {
		var header []string
		if tc.rng != "" {
			header = []string{"Range", tc.rng}
		}
		resp, got := src.get(t, tc.path, header...)
		wantResp, want := local.get(t, tc.path, header...)
		if resp.StatusCode != wantResp.StatusCode || !bytes.Equal(got, want) {
			t.Errorf("%s %s: %d, %d bytes through the source; %d, %d bytes locally", tc.path, tc.rng, resp.StatusCode, len(got), wantResp.StatusCode, len(want))
		}
		if resp.Header.Get(CacheStatusHeader) == "" || wantResp.Header.Get(CacheStatusHeader) != "BYPASS" {
			t.Errorf("%s: X-Cache-Status %q, locally %q", tc.path, resp.Header.Get(CacheStatusHeader), wantResp.Header.Get(CacheStatusHeader))
		}
	}
}

// TestSourceFailureBeforeMP4Header: an MP4 clip starts with its moov from
// memory, but the media after it are made present before the header goes
// out, so that an origin gone since the moov was read is a 502, not a 200
// cut short after the moov. The fixture fits one cache slice, which the
// moov's read brings in whole, so the origin's going is played by the
// source: once broken, it fails every byte past the moov it was asked to
// make present, as the cache does for an origin that no longer answers.
func TestSourceFailureBeforeMP4Header(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, mp4End), readFile(t, mp4Fixture(t, mp4End)))
	s := newSourceServer(t, dir)
	var broken atomic.Bool
	open := s.h.roots[0].Source.Open
	h, err := New(Config{Roots: []Root{{Prefix: "/vod", Source: SourceOf(func(ctx context.Context, urlPath string) (goneOrigin, error) {
		f, err := open(ctx, urlPath)
		return goneOrigin{f, &broken}, err
	})}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	v := &vodServer{dir: dir, h: h, srv: srv}
	clip := "/vod/" + mp4End + "?start=3&end=4"
	// HEAD reads the moov (to know the clip's length) and sends no media.
	if resp, _ := v.do(t, http.MethodHead, clip); resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	broken.Store(true)
	resp, body := v.get(t, clip)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("clip with its origin gone: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// goneOrigin is a file of a source whose origin went away once broken is
// set: bytes it is asked to make present are then an origin's failure.
type goneOrigin struct {
	SourceFile
	broken *atomic.Bool
}

func (f goneOrigin) Ensure(off int64) error {
	if f.broken.Load() {
		return &vodcache.StatusError{Status: http.StatusBadGateway}
	}
	return f.SourceFile.Ensure(off)
}

func (f goneOrigin) Section(off, n int64) (*os.File, error) {
	if f.broken.Load() {
		return nil, &vodcache.StatusError{Status: http.StatusBadGateway}
	}
	return f.SourceFile.Section(off, n)
}
