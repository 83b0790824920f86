package player

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

const cdn = "https://cdn.example/npm/mpegts.js@1.8.2/dist/mpegts.js"

func get(t *testing.T, h func(http.ResponseWriter, *http.Request), path string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

func TestPageWithEmbeddedMpegts(t *testing.T) {
	p := newPage(Config{MpegtsURL: cdn, StreamList: true}, true)
	resp, body := get(t, p.ServeHTTP, "/player?url=/live/a.flv")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<script src="/player/mpegts.js">`, `<script src="/player/player.js">`, `data-stream-list="true"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, cdn) {
		t.Error("a page with mpegts.js embedded names the CDN")
	}
}

// TestPageWithoutEmbeddedMpegts: the page loads mpegts.js from the
// configured URL and tells the reader why.
func TestPageWithoutEmbeddedMpegts(t *testing.T) {
	p := newPage(Config{MpegtsURL: cdn}, false)
	_, body := get(t, p.ServeHTTP, "/")
	for _, want := range []string{`<script src="` + cdn + `">`, "built without mpegts.js", `data-stream-list="false"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, "/player/mpegts.js") {
		t.Error("the page loads the embedded copy")
	}
}

func TestFiles(t *testing.T) {
	p := New(Config{MpegtsURL: cdn})
	for name, ctype := range map[string]string{
		"player.js":  "text/javascript; charset=utf-8",
		"player.css": "text/css; charset=utf-8",
	} {
		rec := httptest.NewRecorder()
		if !p.ServeFile(rec, httptest.NewRequest(http.MethodGet, "/player/"+name, nil), name) {
			t.Fatalf("no %s", name)
		}
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ctype || rec.Body.Len() == 0 {
			t.Errorf("%s: %d %q, %d bytes", name, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
	}
	// The template and the folder's notes are not files of the page.
	for _, name := range []string{"index.html", "README.md", ".gitignore", "x.flv"} {
		if p.ServeFile(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/player/"+name, nil), name) {
			t.Errorf("%s is served", name)
		}
	}
}

// TestEmbedded: Embedded tells the truth about this build, whose mpegts/
// holds mpegts.js if npm ci ran before it.
func TestEmbedded(t *testing.T) {
	_, err := os.Stat("mpegts/mpegts.js")
	if Embedded() != (err == nil) {
		t.Fatalf("Embedded() = %v, but mpegts/mpegts.js: %v", Embedded(), err)
	}
	if !Embedded() {
		return
	}
	p := New(Config{MpegtsURL: cdn})
	rec := httptest.NewRecorder()
	p.ServeFile(rec, httptest.NewRequest(http.MethodGet, "/player/mpegts.js", nil), "mpegts.js")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "mpegts") {
		t.Fatalf("mpegts.js: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	for _, name := range []string{"LICENSE.txt", "mpegts.js.LICENSE.txt"} {
		rec := httptest.NewRecorder()
		if !p.ServeFile(rec, httptest.NewRequest(http.MethodGet, "/player/"+name, nil), name) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q", name, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

// TestRevalidation: a browser that has the page asks again and gets a 304,
// so a new build is seen at once and an unchanged page costs no body.
func TestRevalidation(t *testing.T) {
	p := New(Config{MpegtsURL: cdn})
	resp, _ := get(t, p.ServeHTTP, "/")
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if resp, body := get(t, p.ServeHTTP, "/", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("revalidation: %d, %d bytes", resp.StatusCode, len(body))
	}
}
