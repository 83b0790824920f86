package vfile

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// Layout is a virtual file: bytes held in memory and ranges of a stored
// file, in order. It is built with the Add methods and SetMem, then read;
// once read it must not change, and then one Layout may serve concurrent
// readers, each with its own [Reader].
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
	// Edit, when not nil, changes the bytes of a stored range as they are
	// read: the part is read through it, never sent as stored.
	Edit Editor
}

// Editor changes the bytes of a stored range as they are read. It may be
// called by concurrent readers.
type Editor interface {
	// Edit changes p in place: the bytes at src of the stored file r, as
	// read from it. It may read more of r.
	Edit(r io.ReaderAt, p []byte, src int64) error
}

// AddMem appends bytes held in memory; the layout keeps b.
func (l *Layout) AddMem(b []byte) {
	if len(b) > 0 {
		l.parts = append(l.parts, Part{Off: l.size, Len: int64(len(b)), Mem: b})
		l.size += int64(len(b))
	}
}

// AddFile appends n bytes of the stored file from src on, joined to the
// part before when that ends where they start.
func (l *Layout) AddFile(src, n int64) {
	if n <= 0 {
		return
	}
	if k := len(l.parts) - 1; k >= 0 && l.parts[k].Mem == nil && l.parts[k].Edit == nil && l.parts[k].Src+l.parts[k].Len == src {
		l.parts[k].Len += n // the stored file continues
	} else {
		l.parts = append(l.parts, Part{Off: l.size, Len: n, Src: src})
	}
	l.size += n
}

// AddEdited appends n bytes of the stored file from src on, read through
// e; a part of their own.
func (l *Layout) AddEdited(src, n int64, e Editor) {
	if n <= 0 {
		return
	}
	l.parts = append(l.parts, Part{Off: l.size, Len: n, Src: src, Edit: e})
	l.size += n
}

// SetMem replaces the bytes of in-memory part i with b, of the same
// length: a place reserved in a layout (a header that says where the parts
// after it are) filled once the layout is known.
func (l *Layout) SetMem(i int, b []byte) {
	p := &l.parts[i]
	if p.Mem == nil || int64(len(b)) != p.Len {
		panic(fmt.Sprintf("vfile: SetMem of %d bytes in part %d of %d bytes (in memory: %t)", len(b), i, p.Len, p.Mem != nil))
	}
	p.Mem = b
}

// Size returns the length of the virtual file.
func (l *Layout) Size() int64 { return l.size }

// Parts returns the parts in order. The caller must not change them.
func (l *Layout) Parts() []Part { return l.parts }

// find returns the index of the part that holds offset off, which must be
// in [0, size).
func (l *Layout) find(off int64) int {
	return sort.Search(len(l.parts), func(k int) bool { return l.parts[k].Off+l.parts[k].Len > off })
}

// At returns the part that holds offset off, cut to start there, or false
// when off is outside the file.
func (l *Layout) At(off int64) (Part, bool) {
	if off < 0 || off >= l.size {
		return Part{}, false
	}
	p := l.parts[l.find(off)]
	in := off - p.Off
	p.Off, p.Len = off, p.Len-in
	if p.Mem != nil {
		p.Mem = p.Mem[in:]
	} else {
		p.Src += in
	}
	return p, true
}

// Stored maps offset off to the stored file: the offset there of the byte
// at off when it is stored, and for a byte held in memory (a new header)
// the start of the next stored range, which an answer from off sends
// first. It is false past the last stored range.
func (l *Layout) Stored(off int64) (int64, bool) {
	if off < 0 || off >= l.size {
		return 0, false
	}
	for k := l.find(off); k < len(l.parts); k++ {
		p := l.parts[k]
		switch {
		case p.Mem != nil:
		case off >= p.Off:
			return p.Src + off - p.Off, true
		default:
			return p.Src, true
		}
	}
	return 0, false
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

// Offset returns the offset of the next Read.
func (r *Reader) Offset() int64 { return r.off }

// Size returns the length of the virtual file.
func (r *Reader) Size() int64 { return r.l.size }

var errWhence = errors.New("vfile: seek: invalid whence")

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
		return r.off, fmt.Errorf("vfile: seek to %d: negative offset", offset)
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
// io.EOF) or on an error of the source or of an Editor.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vfile: read at %d: negative offset", off)
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
		if m < len(want) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF // the stored file has shrunk
			}
			return n + m, fmt.Errorf("vfile: reading the stored file at %d: %w", pt.Src+int64(m), err)
		}
		if pt.Edit != nil {
			if err := pt.Edit.Edit(r.src, want, pt.Src); err != nil {
				return n, err
			}
		}
		n += m
	}
	return n, nil
}
