package vod

import (
	"sort"

	"github.com/flvedge/flvedge/flv/index"
)

// part is a piece of a virtual file: bytes held in memory, or a range of
// the stored file, possibly with its tag timestamps lowered (a clip starts
// at time zero).
type part struct {
	off    int64  // offset in the virtual file
	n      int64  // length
	mem    []byte // the bytes of an in-memory part; nil for a file part
	foff   int64  // offset of a file part in the stored file
	rebase bool   // a file part of whole tags whose timestamps are lowered by shift
	shift  uint32
}

// layout is a virtual file: what a response sends, described as parts.
// Responses that send the stored file from some offset on, or with a new
// onMetaData in front, cost a few parts, not a copy.
type layout struct {
	parts []part
	size  int64
}

func (l *layout) addMem(b []byte) {
	if len(b) == 0 {
		return
	}
	l.parts = append(l.parts, part{off: l.size, n: int64(len(b)), mem: b})
	l.size += int64(len(b))
}

func (l *layout) addFile(start, end int64, rebase bool, shift uint32) {
	if end <= start {
		return
	}
	l.parts = append(l.parts, part{off: l.size, n: end - start, foff: start, rebase: rebase, shift: shift})
	l.size += end - start
}

// addSpans adds the parts of spans (ordered, not overlapping) that lie in
// [from, to), less the range skip.
func (l *layout) addSpans(spans []index.Span, from, to int64, skip index.Span, rebase bool, shift uint32) {
	for _, s := range spans {
		s.Start, s.End = max(s.Start, from), min(s.End, to)
		if s.End <= s.Start {
			continue
		}
		if skip.End > skip.Start && skip.Start < s.End && skip.End > s.Start {
			l.addFile(s.Start, skip.Start, rebase, shift)
			l.addFile(skip.End, s.End, rebase, shift)
			continue
		}
		l.addFile(s.Start, s.End, rebase, shift)
	}
}

// find returns the index of the part that holds virtual offset off, which
// must be in [0, size).
func (l *layout) find(off int64) int {
	return sort.Search(len(l.parts), func(i int) bool { return l.parts[i].off+l.parts[i].n > off }) // first part ending after off
}

// stored maps a virtual offset to the stored file: the offset itself in a
// file part, or for an offset inside an in-memory part (the header and
// onMetaData) the start of the next file part. It is false past the last
// file part.
func (l *layout) stored(off int64) (int64, bool) {
	if off < 0 || off >= l.size {
		return 0, false
	}
	for i := l.find(off); i < len(l.parts); i++ {
		p := l.parts[i]
		if p.mem != nil {
			continue
		}
		if off >= p.off {
			return p.foff + off - p.off, true
		}
		return p.foff, true
	}
	return 0, false
}
