package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/flvedge/flvedge/vfile"
)

// Faststart returns a layout of the whole file with its movie box in
// front of the media: right after ftyp, every other top-level box in its
// order, the chunk offsets moved by what moved their boxes. A table of
// 32-bit offsets that would overflow becomes a co64. This is the file that
// ffmpeg's -movflags +faststart writes. A file whose movie box comes first
// already is laid out as it is.
//
// Files with other offsets into the media than chunk offsets (saio boxes,
// a top-level meta box with item locations) give errors.ErrUnsupported.
func (f *File) Faststart() (*vfile.Layout, error) {
	if !f.NeedsFaststart() {
		l := &vfile.Layout{}
		l.AddFile(0, f.Size)
		return l, nil
	}
	for _, b := range f.Boxes {
		if b.Type == typeMeta {
			return nil, fmt.Errorf("mp4: faststart: top-level meta box: %w", errors.ErrUnsupported)
		}
	}
	for _, t := range f.Tracks {
		for _, b := range t.Samples.stbl.Children {
			if b.Type == typeSaio {
				return nil, fmt.Errorf("mp4: faststart: track %d: saio: %w", t.ID, errors.ErrUnsupported)
			}
		}
	}
	// The new order: ftyp if first, moov, the rest.
	order := make([]int, 0, len(f.Boxes))
	if f.Boxes[0].Type == typeFtyp {
		order = append(order, 0)
	}
	order = append(order, f.moov)
	for i := range f.Boxes {
		if i != f.moov && (i != 0 || f.Boxes[0].Type != typeFtyp) {
			order = append(order, i)
		}
	}
	wide := make([]bool, len(f.Tracks))
	for i, t := range f.Tracks {
		wide[i] = t.Samples.chunkWide
	}
	for {
		moov := f.fastMoov(wide, nil)
		dst := f.placeBoxes(order, moov.Size())
		changed := false
		for i, t := range f.Tracks {
			st := t.Samples
			for c := range st.chunkCount() {
				off, err := f.moveOffset(dst, int64(st.chunkOffset(c)))
				if err != nil {
					return nil, fmt.Errorf("mp4: faststart: track %d: chunk %d: %w", t.ID, c+1, err)
				}
				if !wide[i] && off > math.MaxUint32 {
					wide[i], changed = true, true
					break
				}
			}
		}
		if changed {
			continue
		}
		moov = f.fastMoov(wide, dst)
		head := moov.Append(nil)
		l := &vfile.Layout{}
		for _, i := range order {
			if i == f.moov {
				l.AddMem(head)
			} else {
				l.AddFile(f.Boxes[i].Offset, f.Boxes[i].Size)
			}
		}
		return l, nil
	}
}

// placeBoxes returns where each top-level box goes in the new order, with
// a movie box of moovSize bytes.
func (f *File) placeBoxes(order []int, moovSize int64) []int64 {
	dst := make([]int64, len(f.Boxes))
	var off int64
	for _, i := range order {
		dst[i] = off
		if i == f.moov {
			off += moovSize
		} else {
			off += f.Boxes[i].Size
		}
	}
	return dst
}

// moveOffset returns where the byte at src goes when the top-level boxes
// go to dst. Chunks must lie in boxes other than the movie box.
func (f *File) moveOffset(dst []int64, src int64) (int64, error) {
	k := sort.Search(len(f.Boxes), func(k int) bool { return f.Boxes[k].Offset > src }) - 1
	if k < 0 || k == f.moov || src >= f.Boxes[k].End() {
		return 0, fmt.Errorf("offset %d is not in a box that holds media: %w", src, ErrInvalid)
	}
	return dst[k] + src - f.Boxes[k].Offset, nil
}

// chunkCount returns the number of chunks in the chunk offset table.
func (t *SampleTable) chunkCount() uint32 {
	if t.chunkWide {
		return uint32(len(t.chunks) / 8)
	}
	return uint32(len(t.chunks) / 4)
}

// fastMoov returns the movie box with the chunk offset tables moved by
// dst, of co64 where wide says; with dst nil, tables of the right size
// for measuring. Only the path from the movie box to each table is new.
func (f *File) fastMoov(wide []bool, dst []int64) *Box {
	tables := make(map[*Box]*Box, len(f.Tracks))
	for i, t := range f.Tracks {
		st := t.Samples
		n := st.chunkCount()
		typ, width := typeStco, 4
		if wide[i] {
			typ, width = typeCo64, 8
		}
		p := tableHead(0, width*int(n))
		setCount(p, int(n))
		for c := range n {
			var off int64
			if dst != nil {
				// Checked by Faststart before.
				off, _ = f.moveOffset(dst, int64(st.chunkOffset(c)))
			}
			if wide[i] {
				p = binary.BigEndian.AppendUint64(p, uint64(off))
			} else {
				p = binary.BigEndian.AppendUint32(p, uint32(off))
			}
		}
		tables[st.boxes.stco] = NewBox(typ, p)
	}
	return replaceBoxes(f.Moov, tables)
}

// replaceBoxes returns b with the boxes found in repl replaced, copying the
// containers on the way to them and sharing everything else.
func replaceBoxes(b *Box, repl map[*Box]*Box) *Box {
	if r, ok := repl[b]; ok {
		return r
	}
	if len(b.Children) == 0 {
		return b
	}
	var out *Box
	for i, c := range b.Children {
		nc := replaceBoxes(c, repl)
		if nc != c && out == nil {
			out = NewContainer(b.Type, append([]*Box(nil), b.Children...)...)
		}
		if out != nil {
			out.Children[i] = nc
		}
	}
	if out == nil {
		return b
	}
	return out
}
