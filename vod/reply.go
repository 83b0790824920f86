package vod

import (
	"bytes"
	"log/slog"
	"net/http"
	"time"

	"github.com/flvedge/flvedge/vfile"
)

// The handler's way of answering is open to handlers of other URL forms of
// the same files (package smooth: Smooth Streaming presentations of the
// MP4 files), which find roots and files with RootOf, CheckPath and Open,
// share the parsed MP4 files with Movie and Keep, and answer with Serve.

// Serve answers r as the handler answers for its files, serve making the
// answer: GET and HEAD only, a deadline on every write, stored bytes sent
// with sendfile, an error serve returns answered with its status (see
// Error) and client errors logged at a bounded rate, and one access log
// line.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, serve func(*Reply) error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	began := time.Now()
	s := newSender(w, h.timeout)
	if err := serve(&Reply{h: h, w: s, r: r}); err != nil {
		h.fail(s, r, err)
	}
	short := s.short(r)
	if short && s.deadline() == nil {
		// What the answer holds goes out before it is aborted: the abort
		// drops the writer's buffer, and a body cut in its first
		// kilobytes would reach the client without even its header (an
		// empty reply on HTTP/1.x, where ending normally would send the
		// header and the bytes, then close). A player resumes from the
		// bytes it got.
		_ = s.rc.Flush()
	}
	s.done()
	h.logger.Log(r.Context(), h.access, "vod request", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path,
		"query", r.URL.RawQuery, "range", r.Header.Get("Range"), "status", s.status, "bytes", s.sent,
		"cache", w.Header().Get(CacheStatusHeader), "took", time.Since(began).Round(time.Microsecond))
	if short {
		// Ending normally would end a body shorter than its header says
		// as if it were whole, on HTTP/2 and HTTP/3; aborting resets the
		// response on every version (HTTP/1.x closes the connection).
		panic(http.ErrAbortHandler)
	}
}

// Reply is the answer to one request, made by the function given to
// Serve.
type Reply struct {
	h *Handler
	w *sender
	r *http.Request
}

// Header returns the answer's header, to set before Bytes or Virtual.
func (a *Reply) Header() http.Header { return a.w.Header() }

// From says where the answer comes from (X-Cache-Status): the root, and
// once open, the file.
func (a *Reply) From(root Root, f *File) { setCacheStatus(a.w, root, f) }

// Bytes answers with b, modified at mod, with Range and conditional
// requests.
func (a *Reply) Bytes(b []byte, mod time.Time) error {
	return a.h.send(a.w, a.r, nil, mod, bytes.NewReader(b))
}

// Virtual answers with the virtual file l over the stored file f, with
// Range and conditional requests, its stored parts sent with sendfile;
// for a source's file, the first stored bytes are made present before
// the header goes out.
func (a *Reply) Virtual(f *File, l *vfile.Layout) error {
	return a.h.send(a.w, a.r, f, f.mod, newVirtualFile(l, f))
}

// Error returns the error that Serve answers with status and msg.
func Error(status int, msg string) error { return &requestError{status: status, msg: msg} }

// Logger returns the logger of the handler's events.
func (h *Handler) Logger() *slog.Logger { return h.logger }
