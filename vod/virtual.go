package vod

import (
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/flv/index"
	"github.com/flvedge/flvedge/vfile"
)

// virtualFile is a virtual file (an FLV view, an MP4 clip, moov-first file
// or fragment) over the stored file st, as http.ServeContent reads it: the
// sender sends its stored parts from st with sendfile.
type virtualFile struct {
	*vfile.Reader
	st *File
}

func newVirtualFile(l *vfile.Layout, st *File) *virtualFile {
	return &virtualFile{Reader: vfile.NewReader(l, st), st: st}
}

// readFull reads len(p) bytes at off; a file that ends sooner has shrunk
// since it was scanned.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("vod: read at %d: %w", off, err)
}

// retime is the vfile.Editor of a stored range of whole tags in a clip:
// it lowers the timestamps of their tag headers by shift (to zero at the
// least), so that the clip starts at time zero.
type retime struct {
	ix         *fileIndex
	start, end int64
	shift      uint32
	// tag is the stored tag a read was last in: its start and header, so
	// that reading on from there does not walk again. Concurrent readers
	// share it, under mu.
	mu  sync.Mutex
	tag int64
	hdr flv.TagHeader
}

// retimer returns what makes the Editors of a clip's stored ranges.
func (ix *fileIndex) retimer(shift uint32) func(start, end int64) vfile.Editor {
	return func(start, end int64) vfile.Editor {
		return &retime{ix: ix, start: start, end: end, shift: shift, tag: -1}
	}
}

// Edit rewrites the timestamps of the tag headers among p, the stored
// bytes at foff. The range holds whole tags, so the tag that holds foff is
// found by walking from a known tag start: the one last read, or the last
// seek point before foff.
func (e *retime) Edit(r io.ReaderAt, p []byte, foff int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tag < e.start || e.tag > foff || e.tag >= e.end {
		e.tag = e.start
		pts := e.ix.s.IndexSource()
		i := sort.Search(len(pts), func(i int) bool { return pts[i].Pos > foff })
		if i > 0 && pts[i-1].Pos >= e.start {
			e.tag = pts[i-1].Pos
		}
		if err := e.load(r); err != nil {
			return err
		}
	}
	for e.hdr.TagEnd(e.tag) <= foff {
		e.tag = e.hdr.TagEnd(e.tag)
		if err := e.load(r); err != nil {
			return err
		}
	}
	end := foff + int64(len(p))
	for tag := e.tag; tag < end && tag < e.end; {
		h := e.hdr
		if tag != e.tag {
			var err error
			if h, err = headerAt(r, tag); err != nil {
				return err
			}
			e.tag, e.hdr = tag, h
		}
		var hdr [flv.TagHeaderSize]byte
		flv.PutTimestamp(hdr[:], max(h.Timestamp, e.shift)-e.shift)
		for i := int64(4); i < 8; i++ {
			if at := tag + i; at >= foff && at < end {
				p[at-foff] = hdr[i]
			}
		}
		tag = h.TagEnd(tag)
	}
	return nil
}

func (e *retime) load(r io.ReaderAt) error {
	h, err := headerAt(r, e.tag)
	e.hdr = h
	return err
}

// headerAt reads the stored tag header at pos.
func headerAt(r io.ReaderAt, pos int64) (flv.TagHeader, error) {
	var b [flv.TagHeaderSize]byte
	if err := readFull(r, b[:], pos); err != nil {
		return flv.TagHeader{}, err
	}
	h, ok := index.TagHeader(b[:])
	if !ok {
		return h, fmt.Errorf("vod: tag at %d changed since the scan: %w", pos, io.ErrUnexpectedEOF)
	}
	return h, nil
}
