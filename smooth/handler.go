package smooth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flvedge/flvedge/mp4"
	"github.com/flvedge/flvedge/vod"
)

// mp4Ext is the extension of the files presentations are made of.
const mp4Ext = ".mp4"

// Handler serves the Smooth Streaming presentations of the MP4 files under
// the roots of a vod.Handler, and hands every other request to it. It is
// safe for concurrent use.
type Handler struct {
	vod    *vod.Handler
	logger *slog.Logger
}

// New returns the Handler of v's presentations, in front of v.
func New(v *vod.Handler) *Handler {
	return &Handler{vod: v, logger: v.Logger()}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	root, ism, rest, ok := h.resolve(r.URL.Path)
	if !ok {
		h.vod.ServeHTTP(w, r)
		return
	}
	h.vod.Serve(w, r, func(a *vod.Reply) error {
		a.From(root, nil)
		return h.serve(a, r, root, ism, rest)
	})
}

// resolve finds the root of a URL path that names a Smooth Streaming
// resource, when MP4 files are served.
func (h *Handler) resolve(urlPath string) (root vod.Root, ism, rest string, ok bool) {
	if !h.vod.Serves(mp4Ext) {
		return vod.Root{}, "", "", false
	}
	root, rel, ok := h.vod.RootOf(urlPath)
	if !ok {
		return vod.Root{}, "", "", false
	}
	ism, rest, ok = smoothPath(rel)
	return root, ism, rest, ok
}

var errNotFound = vod.Error(http.StatusNotFound, "not found")

// member is a file of a presentation, open for the request, and its parse:
// the movie, or why there is none.
type member struct {
	rel string
	f   *vod.File
	mf  *mp4.File
	why error
}

// planned is a presentation's plan as kept, or why there is none.
type planned struct {
	p   *presentation
	err error
}

// serve answers a Smooth Streaming request for the presentation ism (a
// path under root) with what rest asks.
func (h *Handler) serve(a *vod.Reply, r *http.Request, root vod.Root, ism, rest string) error {
	if err := vod.CheckPath(ism); err != nil {
		return err
	}
	req, ok := parseSmoothPath(rest)
	if !ok {
		return errNotFound
	}
	members, err := h.members(r.Context(), root, ism)
	defer func() {
		for _, m := range members {
			m.f.Close()
		}
	}()
	if err != nil {
		return err
	}
	files := make([]*vod.File, len(members))
	for i := range members {
		m := &members[i]
		files[i] = m.f
		if m.mf, m.why, err = h.vod.Movie(r.Context(), m.f); err != nil {
			return fmt.Errorf("movie %s: %w", m.rel, err)
		}
	}
	kept, err := h.vod.Keep(r.Context(), root.Prefix+"/"+ism+"\x00smooth", files, func() (any, int64) { return h.plan(ism, members) })
	if err != nil {
		return fmt.Errorf("presentation %s: %w", ism, err)
	}
	pl := kept.(*planned)
	if pl.err != nil {
		return vod.Error(http.StatusUnprocessableEntity, "no Smooth Streaming presentation: "+pl.err.Error())
	}
	p := pl.p
	hdr := a.Header()
	if req.manifest {
		hdr.Set("Content-Type", "text/xml; charset=utf-8")
		if len(members) == 1 {
			// One file's presentation changes with that file only.
			hdr.Set("Etag", members[0].f.ETag("-p-m1"))
			a.From(root, members[0].f)
		} else {
			hdr.Set("Etag", fmt.Sprintf(`"%x-%x-m1"`, len(files), int64(vod.Versions(files))))
		}
		return a.Bytes(p.manifest, p.modtime)
	}
	s := p.stream(req.stream)
	if s == nil {
		return vod.Error(http.StatusNotFound, "no stream "+req.stream)
	}
	lv := s.level(req.bitrate)
	if lv == nil {
		return vod.Error(http.StatusNotFound, fmt.Sprintf("no quality level of %d b/s in stream %s", req.bitrate, s.kind))
	}
	k, ok := slices.BinarySearch(s.starts, req.time)
	if !ok {
		return vod.Error(http.StatusNotFound, fmt.Sprintf("no %s fragment starts at %d", s.kind, req.time))
	}
	m := members[lv.member]
	if m.mf == nil || lv.track >= len(m.mf.Tracks) {
		// The plan was made from this version of the file, which parsed
		// then: read again since, it failed (an error reading it).
		return fmt.Errorf("fragment %s: %s no longer parses: %v", req, m.rel, m.why)
	}
	l, err := cutFragment(m.mf.Tracks[lv.track], lv, k)
	if err != nil {
		return fmt.Errorf("fragment %s of %s: %w", req, m.rel, err)
	}
	hdr.Set("Content-Type", "video/mp4")
	hdr.Set("Etag", m.f.ETag(fmt.Sprintf("-s%x-%s%x-1", req.bitrate, s.kind, req.time)))
	a.From(root, m.f)
	return a.Virtual(m.f, l)
}

// members opens the files of the presentation ism: the .mp4 files of the
// folder of that name, or the .mp4 file of that name. A source's folders
// cannot be listed: there, a presentation is one file.
func (h *Handler) members(ctx context.Context, root vod.Root, ism string) ([]member, error) {
	names, err := renditions(root, ism)
	switch {
	case errors.Is(err, vod.ErrNotDir):
		names = []string{strings.TrimSuffix(ism, ismExt) + mp4Ext}
	case err != nil:
		return nil, err
	}
	var members []member
	for _, rel := range names {
		f, err := h.vod.Open(ctx, root, rel)
		if err != nil {
			return members, err
		}
		members = append(members, member{rel: rel, f: f})
	}
	return members, nil
}

// renditions returns the paths of the .mp4 files in the folder rel under
// root, sorted, or vod.ErrNotDir when there is no such folder.
func renditions(root vod.Root, rel string) ([]string, error) {
	// A folder of more entries than a presentation has is refused after
	// reading a bounded number of them.
	entries, err := root.ReadDir(rel, maxDirEntries+1)
	if err != nil {
		return nil, err
	}
	if len(entries) > maxDirEntries {
		return nil, vod.Error(http.StatusUnprocessableEntity, fmt.Sprintf("%s holds more than %d files", path.Base(rel), maxDirEntries))
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if n[0] != '.' && strings.EqualFold(filepath.Ext(n), mp4Ext) && e.Type()&fs.ModeType&^fs.ModeSymlink == 0 {
			names = append(names, rel+"/"+n)
		}
	}
	if len(names) == 0 {
		return nil, errNotFound
	}
	if len(names) > maxRenditions {
		return nil, vod.Error(http.StatusUnprocessableEntity, fmt.Sprintf("%s holds more than %d MP4 files", path.Base(rel), maxRenditions))
	}
	slices.Sort(names)
	return names, nil
}

// plan builds the plan of a presentation, as Keep keeps it.
func (h *Handler) plan(ism string, members []member) (*planned, int64) {
	began := time.Now()
	p, err := planPresentation(members)
	if err != nil {
		h.logger.Warn("vod: no Smooth Streaming presentation", "path", ism, "err", err)
		return &planned{err: err}, 256
	}
	cost := int64(512 + len(p.manifest))
	for _, s := range p.streams {
		cost += 128 + 8*int64(len(s.starts))
		for _, l := range s.levels {
			cost += 256 + 4*int64(len(l.bounds)) + int64(len(l.private))
		}
	}
	h.logger.Debug("vod: Smooth Streaming presentation planned", "path", ism, "files", len(members),
		"streams", len(p.streams), "took", time.Since(began).Round(time.Microsecond))
	return &planned{p: p}, cost
}
