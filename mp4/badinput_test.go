package mp4

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/flvedge/flvedge/vfile"
)

// heapAllocated returns about the bytes f allocated (small allocations
// are counted by the span), without stopping the world as
// runtime.ReadMemStats would: fuzz tests call it on every input.
func heapAllocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// zeroTail is a file of size bytes: head, then zeros, as a sparse file
// would read, without any disk.
type zeroTail struct {
	head []byte
	size int64
}

func (z zeroTail) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.size-off))
	clear(p[:n])
	if off < int64(len(z.head)) {
		copy(p[:n], z.head[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestHugeClaims parses a track that claims 2^32-1 samples of one byte in
// one chunk, one run of each table, and cuts clips of it: the work and
// memory must be those of the runs, not of the samples.
func TestHugeClaims(t *testing.T) {
	const n = math.MaxUint32
	moovOf := func(off uint64, extra ...*Box) *Box {
		tables := append([]*Box{
			table("ctts", 1, be32(n, 2)),
			table("stsc", 1, be32(1, n, 1)),
			box("stsz", fullHead(0), be32(1, n)),
			table("co64", 1, be64(off)),
		}, extra...)
		if tables[len(tables)-1].Type != typeStts {
			tables = append(tables, table("stts", 1, be32(n, 1)))
		}
		return container("moov", mvhdOf(1000, n), trakOf(1, "vide", 1000, n, tables...))
	}
	file := func(extra ...*Box) zeroTail {
		size := moovOf(0, extra...).Size()
		head := cat(moovOf(uint64(size+16), extra...).Append(nil), be32(1), []byte("mdat"), be64(16+n))
		return zeroTail{head, int64(len(head)) + n}
	}
	t.Run("decoding times past 2^62", func(t *testing.T) {
		z := file(table("stts", 1, be32(n, n)))
		if _, err := Parse(z, z.size, nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v, want ErrInvalid", err)
		}
	})
	for _, tc := range []struct {
		name  string
		extra []*Box
	}{
		{"every sample a keyframe", nil},
		{"two keyframes", []*Box{table("stss", 3, be32(1, 500001, 1000001))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := file(tc.extra...)
			size := moovOf(0, tc.extra...).Size()
			var f *File
			var l *vfile.Layout
			var err error
			alloc := heapAllocated(func() {
				if f, err = Parse(file, file.size, nil); err != nil {
					return
				}
				l, err = f.Clip(1000*time.Second, 1001*time.Second)
			})
			if err != nil {
				t.Fatal(err)
			}
			if alloc > 1<<20 {
				t.Errorf("parsing and clipping allocated %d bytes", alloc)
			}
			st := f.Tracks[0].Samples
			if s, ok := st.Sample(n - 1); !ok || s.Offset != int64(size+16+n-1) || s.Time != n-1 {
				t.Errorf("last sample %+v", s)
			}
			clip, err := Parse(vfile.NewReader(l, file), l.Size(), nil)
			if err != nil {
				t.Fatal(err)
			}
			cs := clip.Tracks[0].Samples
			first := uint32(1000000)
			if tc.extra != nil {
				// The keyframe presented at or before 1000 s: the one
				// decoded at 1000 s is presented 2 ms later.
				first = 500000
			}
			if want := 1001000 - first; cs.Len() != want {
				t.Errorf("clip of %d samples, want %d", cs.Len(), want)
			}
			if e := clip.Tracks[0].Edits; len(e) != 1 || e[0].MediaTime != int64(1000000-first) || e[0].Duration != 1000 {
				t.Errorf("clip's edits %+v", e)
			}
		})
	}
}

// movieFile returns a small file of one track made of the given sample
// tables: ftyp, moov, and an mdat of 1000 bytes.
func movieFile(tables ...*Box) []byte {
	ftyp := box("ftyp", []byte("isom"), be32(0x200), []byte("isomiso2"))
	moov := container("moov", mvhdOf(1000, 1000), trakOf(1, "vide", 1000, 1000, tables...))
	return cat(encode(ftyp, moov), be32(1008), []byte("mdat"), make([]byte, 1000))
}

// goodTables are the tables of a track of ten samples of 10 bytes in two
// chunks, keyframes at 0 and 0.5 s, with the given chunk offsets.
func goodTables(stco *Box) []*Box {
	return []*Box{
		table("stts", 1, be32(10, 100)),
		table("stss", 2, be32(1, 6)),
		table("stsc", 1, be32(1, 5, 1)),
		box("stsz", fullHead(0), be32(10, 10)),
		stco,
	}
}

func TestBadInput(t *testing.T) {
	good := movieFile(goodTables(table("stco", 2, be32(200, 300)))...)
	if _, err := Parse(bytes.NewReader(good), int64(len(good)), nil); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	with := func(tables ...*Box) []byte { return movieFile(tables...) }
	replace := func(typ string, b *Box) []byte {
		ts := goodTables(table("stco", 2, be32(200, 300)))
		for i, x := range ts {
			if x.Type == Type([]byte(typ)) {
				ts[i] = b
			}
		}
		return with(ts...)
	}
	manyBoxes := func(n int, typ string) []byte {
		var b []byte
		for range n {
			b = append(b, box(typ).Append(nil)...)
		}
		return b
	}
	frag, err := os.ReadFile(fixture(t, fixAVFrag))
	if err != nil {
		t.Fatal(err)
	}
	fast, err := os.ReadFile(fixture(t, fixAVFast))
	if err != nil {
		t.Fatal(err)
	}
	end, err := os.ReadFile(fixture(t, fixAV))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrNoMovie},
		{"text", []byte("this is not an MP4 file at all"), io.ErrUnexpectedEOF},
		{"box of 2^64-1 bytes", cat(be32(1), []byte("free"), be64(math.MaxUint64)), ErrInvalid},
		{"box of 2^63-1 bytes", cat(be32(1), []byte("moov"), be64(math.MaxInt64)), io.ErrUnexpectedEOF},
		{"box smaller than its header", cat(be32(4), []byte("free")), ErrInvalid},
		{"moov past the end", cat(be32(1000), []byte("moov"), make([]byte, 10)), io.ErrUnexpectedEOF},
		{"fragmented", frag, ErrFragmented},
		{"moov at the end cut in the mdat", end[:len(end)/2], io.ErrUnexpectedEOF},
		{"moov at the end cut in the moov", end[:len(end)-100], io.ErrUnexpectedEOF},
		{"moov first cut in the mdat", fast[:len(fast)/2], io.ErrUnexpectedEOF},
		{"too many top-level boxes", manyBoxes(2000, "free"), ErrTooLarge},
		{"too many boxes in moov", cat(be32(8+8*20000), []byte("moov"), manyBoxes(20000, "trak")), ErrTooLarge},
		{"two moov", cat(encode(container("moov"), container("moov"))), ErrInvalid},
		{"no mvhd", encode(container("moov")), ErrInvalid},
		{"stts of 2^32-1 entries in 8 bytes", replace("stts", table("stts", math.MaxUint32, be32(10, 100))), ErrInvalid},
		{"stts short of samples", replace("stts", table("stts", 1, be32(9, 100))), ErrInvalid},
		{"stsz of 2^32-1 samples in 0 bytes", replace("stsz", box("stsz", fullHead(0), be32(0, math.MaxUint32))), ErrInvalid},
		{"stz2 of 7 bits", replace("stsz", box("stz2", fullHead(0), be32(7, 10), make([]byte, 10))), ErrInvalid},
		{"stsc from chunk 0", replace("stsc", table("stsc", 1, be32(0, 5, 1))), ErrInvalid},
		{"stsc of 0 samples per chunk", replace("stsc", table("stsc", 1, be32(1, 0, 1))), ErrInvalid},
		{"stsc runs out of order", replace("stsc", table("stsc", 2, be32(2, 5, 1), be32(1, 5, 1))), ErrInvalid},
		{"stsc short of samples", replace("stsc", table("stsc", 1, be32(1, 4, 1))), ErrInvalid},
		{"stss out of order", replace("stss", table("stss", 2, be32(6, 1))), ErrInvalid},
		{"stss past the samples", replace("stss", table("stss", 1, be32(11))), ErrInvalid},
		{"chunk past the end", with(goodTables(table("stco", 2, be32(200, 1000000)))...), ErrInvalid},
		{"chunk at 2^64-1", with(goodTables(table("co64", 2, be64(200, math.MaxUint64)))...), ErrInvalid},
		{"stco of 2^32-1 entries", with(goodTables(table("stco", math.MaxUint32, be32(200, 300)))...), ErrInvalid},
		{"no stsz", with(table("stts", 1, be32(10, 100)), table("stsc", 1, be32(1, 5, 1)), table("stco", 2, be32(200, 300))), ErrInvalid},
		{"ctts short of samples", with(append(goodTables(table("stco", 2, be32(200, 300))), table("ctts", 1, be32(3, 0)))...), ErrInvalid},
		{"roll group of variable entries", with(append(goodTables(table("stco", 2, be32(200, 300))),
			box("sgpd", fullHead(1), []byte("roll"), be32(0, 1, 2), []byte{0xff, 0xff}))...), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(bytes.NewReader(tc.file), int64(len(tc.file)), nil); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("moov over the limit", func(t *testing.T) {
		if _, err := Parse(bytes.NewReader(fast), int64(len(fast)), &Options{MaxMoovSize: 1000}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v, want ErrTooLarge", err)
		}
	})
}

// TestClipRefusals checks what Clip refuses: intervals outside the movie,
// and edit lists it cannot cut.
func TestClipRefusals(t *testing.T) {
	parse := func(extra ...*Box) *File {
		t.Helper()
		tables := goodTables(table("stco", 2, be32(200, 300)))
		trak := trakOf(1, "vide", 1000, 1000, tables...)
		if len(extra) > 0 {
			trak.Children = append([]*Box{trak.Children[0], container("edts", extra...)}, trak.Children[1:]...)
		}
		b := cat(encode(container("moov", mvhdOf(1000, 1000), trak)), be32(1008), []byte("mdat"), make([]byte, 1000))
		f, err := Parse(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	elst := func(entries ...[]byte) *Box { return table("elst", len(entries), entries...) }
	for _, tc := range []struct {
		name       string
		f          *File
		start, end time.Duration
		want       error
	}{
		{"start at the end", parse(), time.Second, 0, ErrOutOfRange},
		{"start after the end", parse(), time.Hour, 0, ErrOutOfRange},
		{"end before start", parse(), 500 * time.Millisecond, 400 * time.Millisecond, ErrOutOfRange},
		{"negative start", parse(), -time.Second, 0, ErrOutOfRange},
		{"two media edits", parse(elst(be32(500, 0, 0x10000), be32(500, 500, 0x10000))), 0, 0, errors.ErrUnsupported},
		{"edit at double rate", parse(elst(be32(500, 0, 0x20000))), 0, 0, errors.ErrUnsupported},
		{"only an empty edit", parse(elst(be32(500, math.MaxUint32, 0x10000))), 0, 0, ErrOutOfRange},
		{"after the edit's end", parse(elst(be32(300, 0, 0x10000))), 400 * time.Millisecond, 0, ErrOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.f.Clip(tc.start, tc.end); !errors.Is(err, tc.want) {
				t.Fatalf("Clip(%v, %v): %v, want %v", tc.start, tc.end, err, tc.want)
			}
		})
	}
}
