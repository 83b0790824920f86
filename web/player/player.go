// Package player is the player page: plain HTML, CSS and JavaScript that
// play any HTTP-FLV URL, live or VOD, with mpegts.js, and show what support
// staff ask first: latency, bitrate, resolution, decoded and dropped frames,
// buffer, and every error as it comes. Its figures are also in
// window.playerStats, where tests read what the user reads.
//
// mpegts.js is not in the repository: npm ci in this folder copies the
// pinned build into mpegts/, which is embedded. A build without it loads
// the library from a configured URL and the page says so.
package player

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"
)

// files are the page's own files (static/) and what npm ci copied
// (mpegts/, which always holds its README so that the pattern matches).
//
//go:embed static mpegts
var files embed.FS

// page is static/index.html, executed once per Page.
var page = template.Must(template.ParseFS(files, "static/index.html"))

// Embedded reports whether this build holds mpegts.js, copied into mpegts/
// by npm ci before go build.
func Embedded() bool {
	_, err := fs.Stat(files, "mpegts/mpegts.js")
	return err == nil
}

// Config is what the page needs to know about its server.
type Config struct {
	// MpegtsURL is where the page loads mpegts.js from when the build has
	// none.
	MpegtsURL string
	// StreamList tells the page that GET /api/streams lists the server's
	// streams.
	StreamList bool
}

// Page serves the player page and its files.
type Page struct {
	index asset
	files map[string]asset // by the name under /player/
}

// asset is a file's bytes with what a response needs: its type, and a
// strong ETag so that a browser revalidates with a cheap 304.
type asset struct {
	name string // for the content type
	body []byte
	etag string
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	return asset{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// New renders the page for cfg.
func New(cfg Config) *Page { return newPage(cfg, Embedded()) }

// newPage renders the page as if this build held mpegts.js or not, so that
// a test sees both pages.
func newPage(cfg Config, embedded bool) *Page {
	data := struct {
		MpegtsSrc  string
		Embedded   bool
		StreamList bool
	}{cfg.MpegtsURL, embedded, cfg.StreamList}
	if embedded {
		data.MpegtsSrc = "/player/mpegts.js"
	}
	var html bytes.Buffer
	if err := page.Execute(&html, data); err != nil {
		// The template and its data are fixed at build time: only a
		// broken template fails here, and every test would see it.
		panic("player: " + err.Error())
	}
	p := &Page{index: newAsset("index.html", html.Bytes()), files: make(map[string]asset)}
	for _, dir := range []string{"static", "mpegts"} {
		entries, _ := fs.ReadDir(files, dir) // both are embedded: no error
		for _, e := range entries {
			name := e.Name()
			if name == "index.html" || name == "README.md" {
				continue
			}
			body, _ := fs.ReadFile(files, path.Join(dir, name))
			p.files[name] = newAsset(name, body)
		}
	}
	return p
}

// ServeHTTP serves the page itself, for / and /player?url=URL.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.index.serve(w, r) }

// ServeFile serves the page's file of that name (player.js, mpegts.js, ...)
// and reports whether there is one.
func (p *Page) ServeFile(w http.ResponseWriter, r *http.Request, name string) bool {
	a, ok := p.files[name]
	if ok {
		a.serve(w, r)
	}
	return ok
}

func (a asset) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Without a known extension, ServeContent sniffs the type.
	if ctype := mime.TypeByExtension(path.Ext(a.name)); ctype != "" {
		h.Set("Content-Type", ctype)
	}
	h.Set("ETag", a.etag)
	// Revalidate every time: a new build must not leave browsers with an
	// old page and a new script, and a revalidation is a 304.
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
