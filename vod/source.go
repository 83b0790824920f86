package vod

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Source is where the files of a root come from when they are not on a
// local disk: a cache of origin servers (package vodcache). Every feature
// of local files works on its files; what a directory listing would give
// (a folder of Smooth Streaming renditions) does not.
type Source interface {
	// Open opens the file at the URL path. An error with an
	// HTTPStatus() int method is answered with that status (an origin's
	// 404, a 502 when no origin answers).
	Open(ctx context.Context, urlPath string) (SourceFile, error)
}

// SourceOf makes a Source of an Open function that returns a concrete
// file type, such as (*vodcache.Cache).Open.
func SourceOf[F SourceFile](open func(ctx context.Context, urlPath string) (F, error)) Source {
	return sourceFunc[F](open)
}

type sourceFunc[F SourceFile] func(ctx context.Context, urlPath string) (F, error)

func (open sourceFunc[F]) Open(ctx context.Context, urlPath string) (SourceFile, error) {
	f, err := open(ctx, urlPath)
	if err != nil {
		return nil, err // not f: a nil *F in an interface is not nil
	}
	return f, nil
}

// SourceFile is an open file of a Source, for one request.
type SourceFile interface {
	io.ReaderAt
	io.Closer
	Size() int64
	ModTime() time.Time // zero when unknown
	ETag() string       // the origin's, "" when unknown
	// Status is the X-Cache-Status of the request so far.
	Status() string
	// Section makes the bytes [off, off+n) present and returns a file
	// that holds them at those offsets, which the request may seek and
	// sendfile from, and must not close.
	Section(off, n int64) (*os.File, error)
	// Ensure makes the bytes at off present before the answer's header
	// is sent, so that a failure there is still a status of its own and
	// Status says whether the origin was asked.
	Ensure(off int64) error
}

// Cache statuses of the responses of local roots: they come from no
// cache.
const statusBypass = "BYPASS"

// File is a stored file open for one request, on the local disk or from a
// source (see Handler.Open).
type File struct {
	r    io.ReaderAt
	f    *os.File   // a local file; nil for a source's
	src  SourceFile // a source's; nil for a local file
	size int64
	mod  time.Time
	key  cacheKey
	// etag is the start of the ETag of its responses, without its closing
	// quote, so that virtual files add a suffix to it.
	etag string
}

func (s *File) ReadAt(p []byte, off int64) (int, error) { return s.r.ReadAt(p, off) }

// ModTime returns the file's modification time; zero when unknown.
func (s *File) ModTime() time.Time { return s.mod }

// ETag returns the ETag of a form of the file that suffix names ("" for
// the file as stored): its answers' ETags change when the file does.
func (s *File) ETag(suffix string) string { return s.etag + suffix + `"` }

// Versions returns a hash of the versions of files (their paths, sizes
// and times; for a source's, the origin's validators), which changes when
// any one of them does.
func Versions(files []*File) uint64 {
	hash := fnv.New64a()
	for _, f := range files {
		fmt.Fprintf(hash, "%s\x00%d\x00%d\x00", f.key.path, f.key.size, f.key.mtime)
	}
	return hash.Sum64()
}

// Close closes the file.
func (s *File) Close() error {
	if s.src != nil {
		return s.src.Close()
	}
	return s.f.Close()
}

// fileAt returns a file positioned at off whose next n bytes are the
// stored file's there, for sendfile.
func (s *File) fileAt(off, n int64) (*os.File, error) {
	f := s.f
	if s.src != nil {
		var err error
		if f, err = s.src.Section(off, n); err != nil {
			return nil, err
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return f, nil
}

// Open opens rel, a path under root checked by CheckPath, for one
// request: a local file, or the source's. The caller closes it.
func (h *Handler) Open(ctx context.Context, root Root, rel string) (*File, error) {
	if root.Source == nil {
		f, st, err := openFile(root, rel)
		if err != nil {
			return nil, err
		}
		return &File{
			r: f, f: f, size: st.Size(), mod: st.ModTime(),
			key:  cacheKey{path: filepath.Join(root.Dir, rel), size: st.Size(), mtime: st.ModTime().UnixNano()},
			etag: fmt.Sprintf(`"%x-%x`, st.Size(), st.ModTime().UnixNano()),
		}, nil
	}
	urlPath := root.Prefix + "/" + rel
	sf, err := root.Source.Open(ctx, urlPath)
	if err != nil {
		return nil, sourceError(err)
	}
	s := &File{r: sf, src: sf, size: sf.Size(), mod: sf.ModTime()}
	// The index and movie caches know a source's file by its path and
	// the origin's validators: a new version at the origin is a new key.
	hash := fnv.New64a()
	fmt.Fprintf(hash, "%s\x00%d", sf.ETag(), s.mod.UnixNano())
	s.key = cacheKey{path: "origin:" + urlPath, size: s.size, mtime: int64(hash.Sum64())}
	s.etag = etagBase(sf.ETag(), s.size, s.mod)
	return s, nil
}

// etagBase is the ETag of a source's file, open for a suffix: the
// origin's own, else one made of the size and modification time.
func etagBase(origin string, size int64, mod time.Time) string {
	weak, opaque := "", origin
	if rest, ok := strings.CutPrefix(origin, "W/"); ok {
		weak, opaque = "W/", rest
	}
	if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' || strings.ContainsAny(opaque[1:len(opaque)-1], "\"\r\n") {
		return fmt.Sprintf(`"%x-%x`, size, mod.UnixNano())
	}
	return weak + opaque[:len(opaque)-1]
}

// sourceError is a source's failure as the viewer gets it.
func sourceError(err error) error {
	var se interface{ HTTPStatus() int }
	if errors.As(err, &se) {
		status := se.HTTPStatus()
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		return &requestError{status: status, msg: http.StatusText(status), err: err}
	}
	return err
}
