package vod

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/flv/index"
	"github.com/flvedge/flvedge/ratelog"
)

// Root serves the files under a directory at a URL path prefix.
type Root struct {
	// Prefix is the URL path, such as "/vod": /vod/a/b.flv is the file
	// a/b.flv under Dir.
	Prefix string
	Dir    string
	// FollowSymlinks lets symbolic links lead out of Dir. Without it, a
	// link is followed only when it is relative and stays inside Dir.
	FollowSymlinks bool
	// Source, when set, is where the files come from instead of Dir: a
	// cache of origin servers.
	Source Source
}

// Config is the VOD service's settings.
type Config struct {
	Roots []Root
	// Extensions are the file name extensions served, with their dot
	// (".flv"); others are 404. Nil means ".flv" and ".mp4". Files that
	// are not .flv or .mp4 are served as they are stored, with Range but
	// no seeking.
	Extensions []string
	// IndexCacheBytes bounds the memory of the cached keyframe indexes of
	// FLV files, and apart that of the parsed moov boxes of MP4 files.
	// Default 64 MiB.
	IndexCacheBytes int64
	// WriteTimeout bounds one write to a viewer. Default 15 s.
	WriteTimeout time.Duration
	// AccessLog logs every request at level info (else debug), with its
	// X-Cache-Status.
	AccessLog bool
	Logger    *slog.Logger // nil: slog.Default()
}

// Defaults of Config's zero values.
const (
	DefaultIndexCacheBytes = 64 << 20
	DefaultWriteTimeout    = 15 * time.Second
)

// indexBuilds bounds the scans that run at once: each reads a file from
// end to end, and a burst of first requests for many files must not read
// them all together.
const indexBuilds = 2

// Handler serves stored files: plain GET and HEAD with everything
// http.ServeContent does (Range, multiple ranges, conditional requests),
// FLV files with a keyframe index when they lack one, ?start= byte
// seeking and ?t= time seeking and clips. It is safe for concurrent use.
type Handler struct {
	roots   []Root // longest prefix first
	exts    []string
	cache   *indexCache
	movies  *movieCache
	timeout time.Duration
	logger  *slog.Logger
	bad     *ratelog.Logger
	access  slog.Level
}

// New checks cfg (Config.Check, and that each root without a Source is an
// existing directory) and returns its Handler.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("vod: %w", err)
	}
	h := &Handler{
		exts:    []string{".flv", mp4Ext},
		timeout: cfg.WriteTimeout,
		logger:  cfg.Logger,
		access:  slog.LevelDebug,
	}
	if cfg.AccessLog {
		h.access = slog.LevelInfo
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.timeout <= 0 {
		h.timeout = DefaultWriteTimeout
	}
	if cfg.Extensions != nil {
		h.exts = nil
		for _, e := range cfg.Extensions {
			h.exts = append(h.exts, strings.ToLower(e))
		}
	}
	cacheBytes := cfg.IndexCacheBytes
	if cacheBytes <= 0 {
		cacheBytes = DefaultIndexCacheBytes
	}
	h.cache = newIndexCache(cacheBytes, indexBuilds)
	h.movies = newMovieCache(cacheBytes, indexBuilds)
	h.bad = ratelog.New(h.logger, 10*time.Second, 5)
	for _, r := range cfg.Roots {
		if r.Source == nil {
			st, err := os.Stat(r.Dir)
			if err != nil {
				return nil, fmt.Errorf("vod: root %s: %w", r.Prefix, err)
			}
			if !st.IsDir() {
				return nil, fmt.Errorf("vod: root %s: %s is not a directory", r.Prefix, r.Dir)
			}
		}
		h.roots = append(h.roots, r)
	}
	slices.SortStableFunc(h.roots, func(a, b Root) int { return len(b.Prefix) - len(a.Prefix) })
	return h, nil
}

// Prefixes returns the URL prefixes served, such as "/vod", for routing.
func (h *Handler) Prefixes() []string {
	var out []string
	for _, r := range h.roots {
		out = append(out, r.Prefix)
	}
	return out
}

// requestError is an answer other than the file: its status and the
// text sent, and for a source's failure what it was.
type requestError struct {
	status int
	msg    string
	err    error
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

var errNotFound = &requestError{status: http.StatusNotFound, msg: "not found"}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	began := time.Now()
	s := newSender(w, h.timeout)
	if err := h.serve(s, r); err != nil {
		h.fail(s, r, err)
	}
	s.done()
	h.logger.Log(r.Context(), h.access, "vod request", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path,
		"query", r.URL.RawQuery, "range", r.Header.Get("Range"), "status", s.status, "bytes", s.sent,
		"cache", w.Header().Get(CacheStatusHeader), "took", time.Since(began).Round(time.Microsecond))
}

// CacheStatusHeader says where a VOD answer came from: HIT, MISS,
// EXPIRED, REVALIDATED or STALE for the files of a source (see package
// vodcache), BYPASS for local files and for what a source does not keep.
const CacheStatusHeader = "X-Cache-Status"

// fail answers a request that could not be served. Client errors are
// logged at a bounded rate per client; others are the server's.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		// Malformed requests are worth a (bounded) line; a missing file or
		// a seek past the end is ordinary.
		switch {
		case re.status == http.StatusBadRequest:
			h.bad.Warn(clientOf(r), "vod: bad request", "remote", r.RemoteAddr, "path", ratelog.Clip(r.URL.Path), "query", ratelog.Clip(r.URL.RawQuery), "status", re.status, "err", re.msg)
		case re.err != nil && re.status >= 500:
			h.bad.Warn(r.URL.Path, "vod: origin failed", "path", ratelog.Clip(r.URL.Path), "status", re.status, "err", re.err)
		}
		http.Error(w, re.msg, re.status)
	case r.Context().Err() != nil:
		// The client left while the request waited (for an index, a
		// slice): nobody to answer, nothing wrong with the server.
		h.logger.Debug("vod: client gone", "path", r.URL.Path, "err", err)
	default:
		h.logger.Error("vod: cannot serve", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) serve(w *sender, r *http.Request) error {
	if root, ism, rest, ok := h.resolveSmooth(r.URL.Path); ok {
		setCacheStatus(w, root, nil)
		return h.serveSmooth(w, r, root, ism, rest)
	}
	root, rel, err := h.resolve(r.URL.Path)
	if err != nil {
		return err
	}
	setCacheStatus(w, root, nil)
	f, err := h.open(r.Context(), root, rel)
	if err != nil {
		return err
	}
	defer f.Close()
	setCacheStatus(w, root, f)

	ext := strings.ToLower(filepath.Ext(rel))
	if ext == mp4Ext {
		return h.serveMP4(w, r, f)
	}
	etag := f.etag
	hdr := w.Header()
	if ext != ".flv" {
		if ct := mime.TypeByExtension(ext); ct != "" {
			hdr.Set("Content-Type", ct)
		}
		hdr.Set("Etag", etag+`"`)
		return h.send(w, r, f, f.mod, plainFile(f))
	}

	q := r.URL.Query()
	audio, video, err := flv.WantedTracks(q)
	if err != nil {
		return badRequest("%v", err)
	}
	want := index.Tracks{Audio: audio, Video: video}
	startArg, timeArg := q.Get("start"), q.Get("t")
	if startArg != "" && timeArg != "" {
		return badRequest("start and t cannot be used together")
	}
	start, err := parseStart(startArg)
	if err != nil {
		return badRequest("start=%s: %v", startArg, err)
	}
	var clipStart, clipEnd int64
	if timeArg != "" {
		if clipStart, clipEnd, err = parseTimeRange(timeArg); err != nil {
			return badRequest("%v", err)
		}
	}

	// A file served with one track is another file: its own index,
	// cached apart, and its own ETags.
	key := f.key
	if want != index.AllTracks {
		key.path += "?" + trackQuery(want)
		etag += "-" + trackQuery(want)
	}
	ix, err := h.cache.get(r.Context(), key, func() (*fileIndex, error) {
		return h.index(f, key, want)
	})
	switch {
	case errors.Is(err, index.ErrNotFLV):
		return &requestError{status: http.StatusUnprocessableEntity, msg: "not a valid FLV file"}
	case errors.Is(err, index.ErrTooManyRuns):
		return &requestError{status: http.StatusUnprocessableEntity, msg: "cannot serve one track: " + err.Error()}
	}
	if err != nil {
		return fmt.Errorf("index %s: %w", r.URL.Path, sourceError(err))
	}

	hdr.Set("Content-Type", "video/x-flv")
	var l layout
	switch {
	case start > 0:
		var p index.Point
		if l, p, err = ix.startLayout(f, start); err != nil {
			return h.pastEnd(w, err, ix.whole.size, "start offset %d is past the last keyframe", start)
		}
		etag += fmt.Sprintf("-s%x", p.Pos)
	case timeArg != "":
		var p index.Point
		var cut int64
		if l, p, cut, err = ix.clipLayout(f, clipStart, clipEnd); err != nil {
			return h.pastEnd(w, err, ix.whole.size, "t=%s starts after the end of the media", timeArg)
		}
		etag += fmt.Sprintf("-t%x-%x", p.Pos, cut)
	case ix.plain:
		hdr.Set("Etag", etag+`"`)
		return h.send(w, r, f, f.mod, plainFile(f))
	default:
		l = ix.whole
		etag += "-i"
	}
	// The suffix names the form of the virtual file, so that caches do not
	// mix versions of this server that lay files out differently.
	hdr.Set("Etag", etag+`-1"`)
	return h.send(w, r, f, f.mod, newVirtualFile(f, &l, ix))
}

// trackQuery names a choice of one track as the request did, "" for both.
func trackQuery(t index.Tracks) string {
	switch {
	case !t.Video:
		return "only_audio=1"
	case !t.Audio:
		return "only_video=1"
	}
	return ""
}

// setCacheStatus says where the answer comes from: BYPASS for a local
// root; for a source's, MISS until the file is open (an origin's error
// is a miss), then what the source says.
func setCacheStatus(w http.ResponseWriter, root Root, f *stored) {
	status := statusBypass
	switch {
	case f != nil && f.src != nil:
		status = f.src.Status()
	case root.Source != nil:
		status = "MISS"
	}
	w.Header().Set(CacheStatusHeader, status)
}

// pastEnd answers a seek beyond the media like an unsatisfiable range:
// 416, with the size of the file the offset was meant for.
func (h *Handler) pastEnd(w http.ResponseWriter, err error, size int64, format string, args ...any) error {
	if !errors.Is(err, index.ErrPastEnd) {
		return err
	}
	w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	w.Header().Del("Content-Type")
	return &requestError{status: http.StatusRequestedRangeNotSatisfiable, msg: fmt.Sprintf(format, args...)}
}

// send hands content, read from the stored file f, to
// http.ServeContent. For a source's file, the bytes the answer starts
// with are made present before its header goes out (see sender.before).
// A Range in another unit than bytes is ignored (see byteRanges).
func (h *Handler) send(w *sender, r *http.Request, f *stored, modtime time.Time, content io.ReadSeeker) error {
	size, err := content.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = content.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("size of content: %w", err)
	}
	w.size = size
	if f != nil && f.src != nil && r.Method != http.MethodHead {
		w.before = func() error {
			off, err := content.Seek(0, io.SeekCurrent)
			if err != nil {
				return err
			}
			if soff, ok := storedOffset(content, off); ok {
				err = f.src.Ensure(soff)
			}
			w.Header().Set(CacheStatusHeader, f.src.Status())
			return sourceError(err)
		}
	}
	http.ServeContent(w, byteRanges(r), "", modtime, content)
	return nil
}

// index scans f for the tracks wanted, logging what damage it finds once
// per file version. A source's file with a keyframe index is read at its
// head only (see headScan) when it is served whole.
func (h *Handler) index(f *stored, key cacheKey, want index.Tracks) (*fileIndex, error) {
	start := time.Now()
	var s *index.Scan
	if f.src != nil && want == index.AllTracks {
		s = index.ScanHead(f, key.size)
	}
	head := s != nil
	if s == nil {
		var err error
		if s, err = index.ScanFile(f, key.size, want); err != nil {
			h.logger.Warn("vod: cannot index", "path", key.path, "err", err)
			return nil, err
		}
	}
	ix := buildIndex(s)
	h.logger.Debug("vod: indexed", "path", key.path, "head_only", head, "plain", ix.plain, "keyframes", len(s.Video),
		"duration", time.Duration(s.EndTs)*time.Millisecond, "took", time.Since(start).Round(time.Microsecond))
	if s.Damaged() {
		h.logger.Warn("vod: damaged FLV file served without its damaged parts", "path", key.path,
			"resyncs", s.Damage, "runs", len(s.Segments), "tail_dropped", s.Tail)
	}
	return ix, nil
}

// resolve finds the root of a URL path and checks the rest of it. Every
// segment must be a plain name: no empty, "." or ".." segment (net/http has
// already decoded %2e%2e and %2f, so encoded traversal arrives here as
// such), no backslash or NUL, and no hidden name.
func (h *Handler) resolve(urlPath string) (Root, string, error) {
	for _, root := range h.roots {
		rel, ok := strings.CutPrefix(urlPath, root.Prefix+"/")
		if !ok {
			continue
		}
		if rel == "" {
			return root, "", errNotFound
		}
		if err := checkRel(rel); err != nil {
			return root, "", err
		}
		if !slices.Contains(h.exts, strings.ToLower(filepath.Ext(rel))) {
			return root, "", errNotFound
		}
		return root, rel, nil
	}
	return Root{}, "", errNotFound
}

// checkRel checks each segment of a path under a root: a plain name, not
// hidden.
func checkRel(rel string) error {
	for seg := range strings.SplitSeq(rel, "/") {
		switch {
		case seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00"):
			return badRequest("bad path")
		case seg[0] == '.':
			return errNotFound // hidden
		}
	}
	return nil
}

// openFile opens rel under root. Without FollowSymlinks, os.Root refuses
// any path that leaves the directory, through ".." or a symbolic link.
// O_NONBLOCK keeps a FIFO from blocking the open; only regular files are
// served.
func openFile(root Root, rel string) (*os.File, fs.FileInfo, error) {
	name := filepath.FromSlash(rel)
	var f *os.File
	var err error
	if root.FollowSymlinks {
		f, err = os.OpenFile(filepath.Join(root.Dir, name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	} else {
		var dir *os.Root
		if dir, err = os.OpenRoot(root.Dir); err != nil {
			return nil, nil, fmt.Errorf("open root %s: %w", root.Dir, err)
		}
		f, err = dir.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		dir.Close()
	}
	if err != nil {
		return nil, nil, openError(rel, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, errNotFound
	}
	return f, st, nil
}

// openError tells a file that is not there for the client (404) from a
// server that cannot open files (500).
func openError(rel string, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return errNotFound // os.Root's own refusal: the path leaves the root
	}
	switch errno {
	case syscall.ENOENT, syscall.ENOTDIR, syscall.EACCES, syscall.EPERM, syscall.ELOOP, syscall.ENAMETOOLONG:
		return errNotFound
	}
	return fmt.Errorf("open %s: %w", rel, err)
}
