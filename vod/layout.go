package vod

import (
	"github.com/flvedge/flvedge/flv/index"
	"github.com/flvedge/flvedge/vfile"
)

// The responses for FLV files are virtual files (package vfile): the
// stored file from some offset on, or with a new onMetaData in front, costs
// a few parts, not a copy.

// addSpans adds to l the parts of spans (ordered, not overlapping) of the
// stored file that lie in [from, to), less the range skip. Each is read
// through the Editor that edit makes of its range, when edit is not nil
// (see retimer).
func addSpans(l *vfile.Layout, spans []index.Span, from, to int64, skip index.Span, edit func(start, end int64) vfile.Editor) {
	add := func(start, end int64) {
		switch {
		case end <= start:
		case edit == nil:
			l.AddFile(start, end-start)
		default:
			l.AddEdited(start, end-start, edit(start, end))
		}
	}
	for _, s := range spans {
		s.Start, s.End = max(s.Start, from), min(s.End, to)
		if s.End <= s.Start {
			continue
		}
		if skip.End > skip.Start && skip.Start < s.End && skip.End > s.Start {
			add(s.Start, skip.Start)
			add(skip.End, s.End)
			continue
		}
		add(s.Start, s.End)
	}
}
