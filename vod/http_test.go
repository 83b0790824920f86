package vod

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// rangeCase is one request of the Range and conditional table and what it
// must get, as a function of the full body the file is served as.
type rangeCase struct {
	name   string
	header []string
	status int
	// ranges are the [start, end) slices of the full body the response
	// carries: one for a 206, several for multipart/byteranges.
	ranges [][2]int64
}

func rangeCases(size int64, etag, lastMod string) []rangeCase {
	past := time.Unix(0, 0).UTC().Format(http.TimeFormat)
	return []rangeCase{
		{"whole", nil, 200, [][2]int64{{0, size}}},
		{"single", []string{"Range", "bytes=0-99"}, 206, [][2]int64{{0, 100}}},
		{"middle", []string{"Range", "bytes=1000-1999"}, 206, [][2]int64{{1000, 2000}}},
		{"suffix", []string{"Range", "bytes=-500"}, 206, [][2]int64{{size - 500, size}}},
		{"open-ended", []string{"Range", "bytes=5000-"}, 206, [][2]int64{{5000, size}}},
		{"end clipped to size", []string{"Range", fmt.Sprintf("bytes=%d-%d", size-10, size+1000)}, 206, [][2]int64{{size - 10, size}}},
		{"multiple", []string{"Range", "bytes=0-9,100-199,-20"}, 206, [][2]int64{{0, 10}, {100, 200}, {size - 20, size}}},
		{"unsatisfiable", []string{"Range", fmt.Sprintf("bytes=%d-", size)}, 416, nil},
		// RFC 9110: an invalid range is a 416 with the size too (§15.5.17),
		// a unit the server does not know is ignored (§14.2), and units
		// compare case-insensitively.
		{"invalid", []string{"Range", "bytes=5-1"}, 416, nil},
		{"unknown unit", []string{"Range", "items=0-5"}, 200, [][2]int64{{0, size}}},
		{"no unit", []string{"Range", "0-5"}, 200, [][2]int64{{0, size}}},
		{"unit in capitals", []string{"Range", "Bytes=0-99"}, 206, [][2]int64{{0, 100}}},
		{"If-Range current ETag", []string{"Range", "bytes=10-19", "If-Range", etag}, 206, [][2]int64{{10, 20}}},
		{"If-Range old ETag", []string{"Range", "bytes=10-19", "If-Range", `"old"`}, 200, [][2]int64{{0, size}}},
		{"If-Range date", []string{"Range", "bytes=10-19", "If-Range", lastMod}, 206, [][2]int64{{10, 20}}},
		{"If-None-Match", []string{"If-None-Match", etag}, 304, nil},
		{"If-None-Match other", []string{"If-None-Match", `"other"`}, 200, [][2]int64{{0, size}}},
		{"If-Modified-Since", []string{"If-Modified-Since", lastMod}, 304, nil},
		{"If-Match other", []string{"If-Match", `"other"`}, 412, nil},
		{"If-Match current", []string{"If-Match", etag, "Range", "bytes=0-0"}, 206, [][2]int64{{0, 1}}},
		{"If-Unmodified-Since past", []string{"If-Unmodified-Since", past}, 412, nil},
	}
}

// checkRanges runs the table on path, whose full body is full.
func checkRanges(t *testing.T, s *vodServer, path string, full []byte) {
	t.Helper()
	resp, _ := s.do(t, http.MethodHead, path)
	etag, lastMod := resp.Header.Get("Etag"), resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || etag == "" || lastMod == "" || resp.Header.Get("Accept-Ranges") != "bytes" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(full)) || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Fatalf("HEAD %s: %d %v", path, resp.StatusCode, resp.Header)
	}
	size := int64(len(full))
	for _, c := range rangeCases(size, etag, lastMod) {
		t.Run(c.name, func(t *testing.T) {
			resp, body := s.get(t, path, c.header...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			switch {
			case c.status == 416:
				if got := resp.Header.Get("Content-Range"); got != fmt.Sprintf("bytes */%d", size) {
					t.Fatalf("Content-Range %q", got)
				}
			case c.status == 304 || c.status == 412:
				if len(body) != 0 {
					t.Fatalf("%d with a body of %d bytes", c.status, len(body))
				}
				if c.status == 304 && resp.Header.Get("Etag") != etag {
					t.Fatalf("304 without the ETag")
				}
			case len(c.ranges) == 1:
				r := c.ranges[0]
				if !bytes.Equal(body, full[r[0]:r[1]]) {
					t.Fatalf("body of %d bytes is not bytes %d-%d", len(body), r[0], r[1]-1)
				}
				if got := resp.Header.Get("Content-Length"); got != strconv.FormatInt(r[1]-r[0], 10) {
					t.Fatalf("Content-Length %s", got)
				}
				want := ""
				if c.status == 206 {
					want = fmt.Sprintf("bytes %d-%d/%d", r[0], r[1]-1, size)
				}
				if got := resp.Header.Get("Content-Range"); got != want {
					t.Fatalf("Content-Range %q, want %q", got, want)
				}
				if got := resp.Header.Get("Etag"); got != etag {
					t.Fatalf("ETag %s, want %s", got, etag)
				}
			default:
				checkMultipart(t, resp, body, full, c.ranges)
			}
		})
	}
}

func checkMultipart(t *testing.T, resp *http.Response, body, full []byte, ranges [][2]int64) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
		t.Fatalf("Content-Length %s for a body of %d", got, len(body))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i, r := range ranges {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if got, want := p.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", r[0], r[1]-1, len(full)); got != want {
			t.Fatalf("part %d: Content-Range %q, want %q", i, got, want)
		}
		if got := p.Header.Get("Content-Type"); got != "video/x-flv" {
			t.Fatalf("part %d: Content-Type %q", i, got)
		}
		b, _ := io.ReadAll(p)
		if !bytes.Equal(b, full[r[0]:r[1]]) {
			t.Fatalf("part %d: wrong bytes", i)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("more parts than ranges: %v", err)
	}
}

// TestRangesOfStoredFile runs the table on a file served as stored.
func TestRangesOfStoredFile(t *testing.T) {
	s := newVODServer(t, fixAVIndex)
	checkRanges(t, s, "/vod/"+fixAVIndex, readFile(t, filepath.Join(s.dir, fixAVIndex)))
}

// TestRangesOfVirtualFile runs the table on a file served with a new
// index: Range applies to the virtual file, whose whole body a plain GET
// returns.
func TestRangesOfVirtualFile(t *testing.T) {
	s := newVODServer(t, fixAV)
	_, full := s.get(t, "/vod/"+fixAV)
	checkRanges(t, s, "/vod/"+fixAV, full)
}

// TestRangesOfClip runs the table on a time clip, whose tag timestamps are
// rewritten as they are read: any range must give the bytes of the whole.
func TestRangesOfClip(t *testing.T) {
	s := newVODServer(t, fixAV)
	resp, full := s.get(t, "/vod/"+fixAV+"?t=2.5,7")
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	checkRanges(t, s, "/vod/"+fixAV+"?t=2.5,7", full)
	// Ranges that start and end anywhere, tag headers cut in two included.
	for _, r := range [][2]int{{0, 1}, {13, 14}, {400, 409}, {1000, 5000}, {len(full) / 3, len(full)/3 + 1}, {len(full) - 3000, len(full) - 1}} {
		resp, body := s.get(t, "/vod/"+fixAV+"?t=2.5,7", "Range", fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		if resp.StatusCode != 206 || !bytes.Equal(body, full[r[0]:r[1]+1]) {
			t.Fatalf("bytes %d-%d: status %d, %d bytes differ", r[0], r[1], resp.StatusCode, len(body))
		}
	}
}

// TestOtherExtensionsAreServedAsStored: a configured extension that is not
// FLV goes out as it is, with Range, and its MIME type.
func TestOtherExtensionsAreServedAsStored(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	writeFile(t, filepath.Join(dir, "a.mp3"), data)
	s := serveDir(t, dir, Config{Extensions: []string{".flv", ".MP3"}})
	resp, body := s.get(t, "/vod/a.mp3?start=500", "Range", "bytes=10-19")
	if resp.StatusCode != 206 || string(body) != "0123456789" || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// TestMethods: only GET and HEAD.
func TestMethods(t *testing.T) {
	s := newVODServer(t, fixAV)
	resp, _ := s.do(t, http.MethodPost, "/vod/"+fixAV)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Fatalf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, body := s.do(t, http.MethodHead, "/vod/"+fixAV+"?start=50000")
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength <= 0 {
		t.Fatalf("HEAD with start: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
}
