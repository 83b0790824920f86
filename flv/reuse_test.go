package flv

import (
	"bytes"
	"io"
	"testing"
)

// loopReader serves b over and over, as a live stream's tags keep coming.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.off == len(l.b) {
		l.off = 0
	}
	n := copy(p, l.b[l.off:])
	l.off += n
	return n, nil
}

// liveTags is a GOP's worth of tags of the sizes a 2 Mbit/s stream has:
// a 64 KiB keyframe, 8 KiB inter frames, small audio frames.
func liveTags() []byte {
	var b []byte
	for i := range 30 {
		video := make([]byte, 8<<10)
		video[0], video[1] = 0x27, 1
		if i == 0 {
			video = make([]byte, 64<<10)
			video[0], video[1] = 0x17, 1
		}
		b = AppendTag(b, Tag{Type: TagVideo, Timestamp: uint32(i * 33), Data: video})
		b = AppendTag(b, Tag{Type: TagAudio, Timestamp: uint32(i*33 + 10), Data: make([]byte, 400)})
	}
	return b
}

func TestReadTagReuse(t *testing.T) {
	var tags []Tag
	for i := range 50 {
		tags = append(tags, Tag{Type: TagVideo, Timestamp: uint32(i), Data: bytes.Repeat([]byte{byte(i)}, 1+i*i*40)})
	}
	b := AppendHeader(nil, false, true)
	for _, tag := range tags {
		b = AppendTag(b, tag)
	}
	r := NewReader(bytes.NewReader(b))
	if _, err := r.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	for i, want := range tags {
		got, err := r.ReadTagReuse()
		if err != nil {
			t.Fatalf("tag %d: %v", i, err)
		}
		if got.Type != want.Type || got.Timestamp != want.Timestamp || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("tag %d = {%d %d %d bytes}, want {%d %d %d bytes}", i,
				got.Type, got.Timestamp, len(got.Data), want.Type, want.Timestamp, len(want.Data))
		}
		if cap(got.Data) != len(got.Data) {
			t.Errorf("tag %d: cap(Data) = %d, want len %d: appending would overwrite the buffer", i, cap(got.Data), len(got.Data))
		}
	}
	if _, err := r.ReadTagReuse(); err != io.EOF {
		t.Errorf("after the last tag: %v, want io.EOF itself", err)
	}
}

// TestReadTagReuseAllocatesNothing fails if reading a live stream's tags
// allocates again once the buffer has grown to its largest tag.
func TestReadTagReuseAllocatesNothing(t *testing.T) {
	r := NewReader(&loopReader{b: liveTags()})
	for range 60 { // one GOP: the buffer grows to the keyframe
		if _, err := r.ReadTagReuse(); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if n := testing.AllocsPerRun(600, func() { _, err = r.ReadTagReuse() }); n != 0 || err != nil {
		t.Errorf("ReadTagReuse: %v allocations per tag, %v; want none", n, err)
	}
}

// TestReadTagReuseLetsGoOfHugeBuffers: a rare huge tag does not pin its
// buffer for the rest of the stream.
func TestReadTagReuseLetsGoOfHugeBuffers(t *testing.T) {
	b := AppendHeader(nil, false, true)
	b = AppendTag(b, Tag{Type: TagVideo, Data: make([]byte, maxKept+1)})
	b = AppendTag(b, Tag{Type: TagVideo, Data: make([]byte, 10)})
	r := NewReader(bytes.NewReader(b))
	if _, err := r.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.ReadTagReuse(); err != nil {
			t.Fatal(err)
		}
	}
	if cap(r.body) > maxKept {
		t.Errorf("buffer of %d bytes kept after a small tag, want at most %d", cap(r.body), maxKept)
	}
}

// BenchmarkReadTag compares the two ways of reading a live stream's tags:
// a fresh buffer per tag (ReadTag) and one buffer reused (ReadTagReuse).
func BenchmarkReadTag(b *testing.B) {
	tags := liveTags()
	for _, bc := range readMethods {
		b.Run(bc.name, func(b *testing.B) {
			r := NewReader(&loopReader{b: tags})
			b.SetBytes(int64(len(tags) / 60))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.read(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
