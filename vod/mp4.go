package vod

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"context"

	"github.com/flvedge/flvedge/mp4"
	"github.com/flvedge/flvedge/vfile"
)

// MP4 files are served with the pseudo-streaming of lighttpd's and Apache's
// mod_h264_streaming and nginx's mp4 module, from the stored file alone:
//
//   - ?start=<s>&end=<s> in seconds (either may be left out), or ?t= as for
//     FLV: a virtual clip of every track (see mp4.File.Clip), its moov
//     first, with Range on the clip;
//   - a plain request for a file whose moov follows its media gets the
//     file with the moov moved to the front (mp4.File.Faststart), without
//     writing anything;
//   - everything else is the stored file.
//
// Fragmented files are served as stored, whatever the query: players seek
// in them with their own index (sidx, mfra) and Range. Other files that
// package mp4 cannot read are served as stored to plain requests (a player
// may still know them) and refused with 422 to clip requests, as are clips
// of what it cannot cut. A clip that starts after the end is a 416.

// mp4Ext is the extension of the files served this way.
const mp4Ext = ".mp4"

// movie is the cached parse of one version of an MP4 file.
type movie struct {
	// f is nil for a file served as stored whatever the query; err says
	// why, unless it is fragmented, when clips get the stored file too.
	f   *mp4.File
	err error
	// fast is the file with its moov first, for plain requests, when it is
	// stored with the moov last; nil otherwise.
	fast *vfile.Layout
	// kept is what Keep keeps under its name (the plan of a Smooth
	// Streaming presentation), for its entries.
	kept any
	cost int64
}

// movie returns the cached parse of the MP4 file f.
func (h *Handler) movie(ctx context.Context, f *File) (*movie, error) {
	return h.movies.get(ctx, f.key, func() (*movie, error) { return h.parseMovie(f, f.key), nil })
}

// Movie returns the parse of the MP4 file f that its clips use, from the
// movie cache: the file, or nil and why it cannot be cut (wrapping
// mp4.ErrFragmented for a fragmented file). err is the request's own
// failure: its client left while another request parsed the file.
func (h *Handler) Movie(ctx context.Context, f *File) (mf *mp4.File, why, err error) {
	m, err := h.movie(ctx, f)
	switch {
	case err != nil:
		return nil, nil, err
	case m.f == nil && m.err == nil:
		return nil, mp4.ErrFragmented, nil
	}
	return m.f, m.err, nil
}

// Keep returns the value that build works out from files (the plan of a
// presentation of several), cached under name and the versions of the
// files, with the parsed MP4 files and within their memory bound: built
// once per version of the files whatever the requests, again when one of
// them changes. build returns the value and the bytes it holds.
func (h *Handler) Keep(ctx context.Context, name string, files []*File, build func() (v any, cost int64)) (any, error) {
	key := cacheKey{path: name, size: int64(len(files)), mtime: int64(Versions(files))}
	m, err := h.movies.get(ctx, key, func() (*movie, error) {
		v, cost := build()
		return &movie{kept: v, cost: cost}, nil
	})
	if err != nil {
		return nil, err
	}
	return m.kept, nil
}

// serveMP4 answers a request for the MP4 file f.
func (h *Handler) serveMP4(w *sender, r *http.Request, f *File) error {
	key := f.key
	start, end, clip, err := parseClipQuery(r)
	if err != nil {
		return err
	}
	m, err := h.movie(r.Context(), f)
	if err != nil {
		return fmt.Errorf("movie %s: %w", r.URL.Path, err)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "video/mp4")
	etag := f.etag
	switch {
	case clip && m.err != nil:
		return &requestError{status: http.StatusUnprocessableEntity, msg: "cannot clip: " + m.err.Error()}
	case !clip && m.fast != nil:
		// The suffix names the form of the virtual file, so that caches
		// do not mix versions of this server that lay files out
		// differently.
		hdr.Set("Etag", etag+`-f1"`)
		return h.send(w, r, f, f.mod, newVirtualFile(m.fast, f))
	case !clip || m.f == nil:
		hdr.Set("Etag", etag+`"`)
		return h.send(w, r, f, f.mod, plainFile(f))
	}
	l, err := m.f.Clip(start, end)
	switch {
	case errors.Is(err, mp4.ErrOutOfRange):
		hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", key.size))
		hdr.Del("Content-Type")
		return &requestError{status: http.StatusRequestedRangeNotSatisfiable, msg: "the clip starts after the end of the media"}
	case err != nil:
		return &requestError{status: http.StatusUnprocessableEntity, msg: "cannot clip: " + err.Error()}
	}
	hdr.Set("Etag", fmt.Sprintf(`%s-c%x-%x-1"`, etag, start.Milliseconds(), end.Milliseconds()))
	return h.send(w, r, f, f.mod, newVirtualFile(l, f))
}

// parseClipQuery reads ?start= and ?end= (seconds, as in 45.5, or clock
// time as ?t= takes it) or ?t=. clip is false when the request asks for
// the whole file; end is 0 for the end of the media.
func parseClipQuery(r *http.Request) (start, end time.Duration, clip bool, err error) {
	q := r.URL.Query()
	s, e, t := q.Get("start"), q.Get("end"), q.Get("t")
	switch {
	case t != "" && (s != "" || e != ""):
		return 0, 0, false, badRequest("t cannot be used with start or end")
	case t != "":
		ms, endMs, err := parseTimeRange(t)
		if err != nil {
			return 0, 0, false, badRequest("%v", err)
		}
		return time.Duration(ms) * time.Millisecond, time.Duration(max(endMs, 0)) * time.Millisecond, true, nil
	case s == "" && e == "":
		return 0, 0, false, nil
	}
	var startMs, endMs int64
	if s != "" {
		if startMs, err = parseClock(s); err != nil {
			return 0, 0, false, badRequest("start=%s: must be seconds, such as 45.5", s)
		}
	}
	if e != "" {
		if endMs, err = parseClock(e); err != nil {
			return 0, 0, false, badRequest("end=%s: must be seconds, such as 60", e)
		}
		if endMs <= startMs {
			return 0, 0, false, badRequest("end=%s is not after start=%s", e, s)
		}
	}
	return time.Duration(startMs) * time.Millisecond, time.Duration(endMs) * time.Millisecond, true, nil
}

// parseMovie reads the moov of f, logging once per file version what
// keeps it from being clipped or moved.
func (h *Handler) parseMovie(f io.ReaderAt, key cacheKey) *movie {
	began := time.Now()
	m := &movie{cost: 256}
	m.f, m.err = mp4.Parse(f, key.size, nil)
	switch {
	case errors.Is(m.err, mp4.ErrFragmented):
		m.f, m.err = nil, nil
		return m
	case m.err != nil:
		h.logger.Warn("vod: MP4 file served as stored, without clips", "path", key.path, "err", m.err)
		m.f = nil
		return m
	}
	m.cost += m.f.MemSize()
	if m.f.NeedsFaststart() {
		fast, err := m.f.Faststart()
		if err != nil {
			h.logger.Warn("vod: MP4 file with its moov last served as stored", "path", key.path, "err", err)
		} else {
			m.fast = fast
			for _, p := range fast.Parts() {
				m.cost += int64(len(p.Mem)) // the new moov
			}
		}
	}
	h.logger.Debug("vod: movie read", "path", key.path, "tracks", len(m.f.Tracks), "faststart", m.fast != nil,
		"took", time.Since(began).Round(time.Microsecond))
	return m
}
