package mp4

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// Layout is a virtual file: bytes held in memory (a new movie box) and
// ranges of a stored file (its media), in order. It is immutable, so one
// Layout may serve concurrent readers, each with its own [Reader].
type Layout struct {
	parts []Part
	size  int64
}

// Part is a piece of a Layout.
type Part struct {
	// Off is where the part starts in the layout, Len its length.
	Off, Len int64
	// Mem holds the part's bytes when they are in memory; nil for a range
	// of the stored file.
	Mem []byte
	// Src is where a stored range starts in the stored file.
	Src int64
}

func (l *Layout) addMem(b []byte) {
	if len(b) > 0 {
		l.parts = append(l.parts, Part{Off: l.size, Len: int64(len(b)), Mem: b})
		l.size += int64(len(b))
	}
}

func (l *Layout) addFile(src, n int64) {
	if n <= 0 {
		return
	}
	if k := len(l.parts) - 1; k >= 0 && l.parts[k].Mem == nil && l.parts[k].Src+l.parts[k].Len == src {
		l.parts[k].Len += n // the stored file continues
	} else {
		l.parts = append(l.parts, Part{Off: l.size, Len: n, Src: src})
	}
	l.size += n
}

// Size returns the length of the virtual file.
func (l *Layout) Size() int64 { return l.size }

// Parts returns the parts in order. The caller must not change them.
func (l *Layout) Parts() []Part { return l.parts }

// At returns the part that holds offset off, cut to start there, or false
// when off is outside the file.
func (l *Layout) At(off int64) (Part, bool) {
	if off < 0 || off >= l.size {
		return Part{}, false
	}
	k := sort.Search(len(l.parts), func(k int) bool { return l.parts[k].Off+l.parts[k].Len > off })
	p := l.parts[k]
	in := off - p.Off
	p.Off, p.Len = off, p.Len-in
	if p.Mem != nil {
		p.Mem = p.Mem[in:]
	} else {
		p.Src += in
	}
	return p, true
}

// Reader reads a Layout whose stored ranges come from src: an io.Reader,
// io.Seeker and io.ReaderAt over the virtual file, as http.ServeContent
// wants. Like an *os.File, a Reader is for one user at a time, except for
// ReadAt.
type Reader struct {
	l   *Layout
	src io.ReaderAt
	off int64
}

// NewReader returns a Reader of l at offset 0.
func NewReader(l *Layout, src io.ReaderAt) *Reader { return &Reader{l: l, src: src} }

// Layout returns the layout read.
func (r *Reader) Layout() *Layout { return r.l }

// Size returns the length of the virtual file.
func (r *Reader) Size() int64 { return r.l.size }

var errWhence = errors.New("mp4: seek: invalid whence")

// Seek sets the offset of the next Read.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.l.size
	default:
		return r.off, errWhence
	}
	if offset < 0 {
		return r.off, fmt.Errorf("mp4: seek to %d: negative offset", offset)
	}
	r.off = offset
	return offset, nil
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads len(p) bytes at off, less only at the end of the file (with
// io.EOF) or on an error of the source.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("mp4: read at %d: negative offset", off)
	}
	var n int
	for n < len(p) {
		pt, ok := r.l.At(off + int64(n))
		if !ok {
			return n, io.EOF
		}
		want := p[n:min(int64(len(p)), int64(n)+pt.Len)]
		if pt.Mem != nil {
			n += copy(want, pt.Mem)
			continue
		}
		m, err := r.src.ReadAt(want, pt.Src)
		n += m
		if m < len(want) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the stored file has shrunk
			}
			return n, fmt.Errorf("mp4: reading the stored file at %d: %w", pt.Src+int64(m), err)
		}
	}
	return n, nil
}
