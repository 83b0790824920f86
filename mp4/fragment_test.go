package mp4

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/flvedge/flvedge/vfile"
)

// TestSampleEntry: the sample entries of ffmpeg's H.264 and AAC tracks.
func TestSampleEntry(t *testing.T) {
	f, _ := parseFixture(t, fixAV)
	var video, audio bool
	for _, tr := range f.Tracks {
		e, err := tr.SampleEntry()
		if err != nil {
			t.Fatalf("track %d: %v", tr.ID, err)
		}
		switch e.Format {
		case typeAvc1:
			sps, pps, lengthSize, err := AVCParameterSets(e.AVCConfig)
			if err != nil || e.Width != 320 || e.Height != 240 || lengthSize != 4 || len(sps) != 1 || len(pps) != 1 || sps[0][0]&0x1f != 7 || pps[0][0]&0x1f != 8 {
				t.Fatalf("avc1 %dx%d, length size %d, %d SPS, %d PPS: %v", e.Width, e.Height, lengthSize, len(sps), len(pps), err)
			}
			video = true
		case typeMp4a:
			// AAC LC at 44.1 kHz, mono: 0x1208.
			if e.ObjectType != 0x40 || e.SampleRate != 44100 || len(e.AudioConfig) < 2 || !bytes.HasPrefix(e.AudioConfig, []byte{0x12, 0x08}) {
				t.Fatalf("mp4a %+v", e)
			}
			audio = true
		}
	}
	if !video || !audio {
		t.Fatal("tracks missing")
	}
}

// TestFragment: a fragment in the track's own timescale has in its trun
// exactly the durations, sizes, keyframes and composition offsets of the
// sample table, its mdat the samples' bytes, and its extra boxes the time
// and duration of its samples.
func TestFragment(t *testing.T) {
	f, src := parseFixture(t, fixBFrames)
	for _, tr := range f.Tracks {
		st := tr.Samples
		from, to := st.Len()/3, st.Len()/2
		var gotTime, gotDur uint64
		l, err := tr.Fragment(from, to, FragmentOptions{Sequence: 7, Extra: func(tm, d uint64) []*Box {
			gotTime, gotDur = tm, d
			return []*Box{NewBox(Type{'t', 'e', 's', 't'}, nil)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		b := readLayout(t, l, src)
		moofSize := binary.BigEndian.Uint32(b)
		trun := bytes.Index(b[:moofSize], []byte("trun")) + 4
		if !bytes.Contains(b[:moofSize], []byte("test")) || binary.BigEndian.Uint32(b[moofSize-8+4:]) != binary.BigEndian.Uint32([]byte("test")) {
			t.Fatal("the extra box is not at the end of the traf")
		}
		flags := binary.BigEndian.Uint32(b[trun:]) & 0xffffff
		per := 12
		if flags&trunComposition != 0 {
			per = 16
		}
		if binary.BigEndian.Uint32(b[trun+4:]) != to-from || int(binary.BigEndian.Uint32(b[trun+8:])) != int(moofSize)+8 {
			t.Fatalf("trun count or data offset")
		}
		p, data := b[trun+12:], b[moofSize+8:]
		first, _ := st.Sample(from)
		var dur uint64
		for i, s := range st.Samples(from, to) {
			d, size, fl := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint32(p[8:])
			if d != s.Duration || size != s.Size || (fl == flagsSync) != s.Keyframe {
				t.Fatalf("track %d sample %d: %d %d %x; table %+v", tr.ID, i, d, size, fl, s)
			}
			if per == 16 && int32(binary.BigEndian.Uint32(p[12:])) != s.CompositionOffset {
				t.Fatalf("track %d sample %d: composition offset", tr.ID, i)
			}
			want := make([]byte, s.Size)
			if _, err := src.ReadAt(want, s.Offset); err != nil || !bytes.Equal(data[:size], want) {
				t.Fatalf("track %d sample %d: bytes", tr.ID, i)
			}
			dur += uint64(d)
			p, data = p[per:], data[size:]
		}
		if len(data) != 0 || gotTime != first.Time || gotDur != dur {
			t.Fatalf("track %d: %d bytes left, time %d+%d, want %d+%d", tr.ID, len(data), gotTime, gotDur, first.Time, dur)
		}
	}
}

// FuzzFragment reads the sample entries of arbitrary files and cuts
// fragments of their tracks (samples [from, to), up to maxWalk of them):
// nothing panics, memory stays in proportion to the input and the
// fragment, and the fragment's moof and mdat add up to the layout.
func FuzzFragment(f *testing.F) {
	f.Add(movieFile(goodTables(table("stco", 2, be32(200, 300)))...), uint32(0), uint32(3))
	f.Fuzz(func(t *testing.T, b []byte, from, to uint32) {
		file, err := Parse(bytes.NewReader(b), int64(len(b)), nil)
		if err != nil {
			return
		}
		for _, tr := range file.Tracks {
			if e, err := tr.SampleEntry(); err == nil && e.AVCConfig != nil {
				_, _, _, _ = AVCParameterSets(e.AVCConfig)
			}
			n := tr.Samples.Len()
			a := from % (n + 1)
			z := min(a+to%maxWalk, n)
			var l *vfile.Layout
			alloc := heapAllocated(func() {
				l, err = tr.Fragment(a, z, FragmentOptions{Timescale: 10_000_000})
			})
			if bound := 64*uint64(len(b)) + 64*uint64(z-a) + 1<<20; alloc > bound {
				t.Fatalf("fragment of %d samples of %d bytes allocated %d", z-a, len(b), alloc)
			}
			if err != nil {
				if a < z {
					t.Fatalf("fragment [%d, %d) of %d: %v", a, z, n, err)
				}
				continue
			}
			head := l.Parts()[0].Mem
			moof := int64(binary.BigEndian.Uint32(head))
			if moof+8 > int64(len(head)) || int64(binary.BigEndian.Uint32(head[moof:]))+moof != l.Size() {
				t.Fatalf("moof of %d and mdat do not make the %d bytes of the layout", moof, l.Size())
			}
		}
	})
}
