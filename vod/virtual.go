package vod

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/flv/index"
)

// virtualFile reads a layout as one file, for http.ServeContent, which
// then answers Range and conditional requests for it as for any file.
type virtualFile struct {
	r   io.ReaderAt // a *stored, whose stored parts go out with sendfile
	l   *layout
	ix  *fileIndex
	off int64
	// tag is the stored tag a rebased read was last in: its start and
	// header, so that reading on from there does not walk again.
	tag    int64
	tagHdr flv.TagHeader
}

func newVirtualFile(r io.ReaderAt, l *layout, ix *fileIndex) *virtualFile {
	return &virtualFile{r: r, l: l, ix: ix, tag: -1}
}

var errWhence = errors.New("vod: seek: bad whence")

func (v *virtualFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += v.off
	case io.SeekEnd:
		offset += v.l.size
	default:
		return v.off, errWhence
	}
	if offset < 0 {
		return v.off, fmt.Errorf("vod: seek to %d: negative offset", offset)
	}
	v.off = offset
	return offset, nil
}

func (v *virtualFile) Read(p []byte) (int, error) {
	if v.off >= v.l.size {
		return 0, io.EOF
	}
	pt := v.l.parts[v.l.find(v.off)]
	in := v.off - pt.off
	p = p[:min(int64(len(p)), pt.n-in)]
	var err error
	switch {
	case pt.mem != nil:
		copy(p, pt.mem[in:])
	case pt.rebase:
		err = v.readRebased(p, pt, pt.foff+in)
	default:
		err = readFull(v.r, p, pt.foff+in)
	}
	if err != nil {
		return 0, err
	}
	v.off += int64(len(p))
	return len(p), nil
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

// readRebased reads the stored bytes at foff into p and lowers the
// timestamps of the tag headers among them by the part's shift (to zero at
// the least). The part holds whole tags, so the tag that holds foff is
// found by walking from a known tag start: the one last read, or the last
// seek point before foff.
func (v *virtualFile) readRebased(p []byte, pt part, foff int64) error {
	if v.tag < pt.foff || v.tag > foff || v.tag >= pt.foff+pt.n {
		v.tag = pt.foff
		pts := v.ix.s.IndexSource()
		i := sort.Search(len(pts), func(i int) bool { return pts[i].Pos > foff })
		if i > 0 && pts[i-1].Pos >= pt.foff {
			v.tag = pts[i-1].Pos
		}
		if err := v.loadTag(); err != nil {
			return err
		}
	}
	for v.tagHdr.TagEnd(v.tag) <= foff {
		v.tag = v.tagHdr.TagEnd(v.tag)
		if err := v.loadTag(); err != nil {
			return err
		}
	}
	if err := readFull(v.r, p, foff); err != nil {
		return err
	}
	end := foff + int64(len(p))
	for tag := v.tag; tag < end && tag < pt.foff+pt.n; {
		h := v.tagHdr
		if tag != v.tag {
			var err error
			if h, err = v.headerAt(tag); err != nil {
				return err
			}
			v.tag, v.tagHdr = tag, h
		}
		var hdr [flv.TagHeaderSize]byte
		flv.PutTimestamp(hdr[:], max(h.Timestamp, pt.shift)-pt.shift)
		for i := int64(4); i < 8; i++ {
			if at := tag + i; at >= foff && at < end {
				p[at-foff] = hdr[i]
			}
		}
		tag = h.TagEnd(tag)
	}
	return nil
}

func (v *virtualFile) loadTag() error {
	h, err := v.headerAt(v.tag)
	v.tagHdr = h
	return err
}

// headerAt reads the stored tag header at pos.
func (v *virtualFile) headerAt(pos int64) (flv.TagHeader, error) {
	var b [flv.TagHeaderSize]byte
	if err := readFull(v.r, b[:], pos); err != nil {
		return flv.TagHeader{}, err
	}
	h, ok := index.TagHeader(b[:])
	if !ok {
		return h, fmt.Errorf("vod: tag at %d changed since the scan: %w", pos, io.ErrUnexpectedEOF)
	}
	return h, nil
}
