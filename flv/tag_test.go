package flv

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct {
		audio, video bool
		flags        byte
	}{
		{true, true, 0x05},
		{true, false, 0x04},
		{false, true, 0x01},
		{false, false, 0x00},
	} {
		want := []byte{'F', 'L', 'V', 1, tc.flags, 0, 0, 0, 9, 0, 0, 0, 0}
		got := AppendHeader([]byte("x"), tc.audio, tc.video)
		if !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("AppendHeader(%v, %v) = % x, want x + % x", tc.audio, tc.video, got, want)
		}
	}
}

func TestAppendTag(t *testing.T) {
	tag := Tag{Type: TagVideo, Timestamp: 0x12345678, Data: []byte{0xaa, 0xbb}}
	want := []byte{
		0x09,             // type
		0x00, 0x00, 0x02, // data size
		0x34, 0x56, 0x78, // timestamp, low 24 bits
		0x12,             // timestamp extended
		0x00, 0x00, 0x00, // stream ID
		0xaa, 0xbb, // data
		0x00, 0x00, 0x00, 0x0d, // previous tag size
	}
	got := AppendTag([]byte{1, 2}, tag)
	if !bytes.Equal(got, append([]byte{1, 2}, want...)) {
		t.Fatalf("AppendTag = % x, want 01 02 % x", got, want)
	}
	if n := EncodedSize(tag); n != len(want) {
		t.Errorf("EncodedSize = %d, want %d", n, len(want))
	}
	empty := AppendTag(nil, Tag{Type: TagScript})
	if want := []byte{0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b}; !bytes.Equal(empty, want) {
		t.Errorf("AppendTag(empty script) = % x, want % x", empty, want)
	}
	// Bits above the five of the type would be read back as reserved or
	// encrypted; they are never written.
	if b := AppendTag(nil, Tag{Type: 0xe8}); b[0] != TagAudio {
		t.Errorf("type byte = %#x, want %#x", b[0], TagAudio)
	}
}

func TestAppendTagDoesNotAllocate(t *testing.T) {
	tag := Tag{Type: TagVideo, Timestamp: 40, Data: make([]byte, 1000)}
	dst := make([]byte, 0, EncodedSize(tag))
	if n := testing.AllocsPerRun(100, func() { dst = AppendTag(dst[:0], tag) }); n != 0 {
		t.Errorf("AppendTag into a right-sized buffer: %v allocations, want 0", n)
	}
}

func BenchmarkAppendTag(b *testing.B) {
	tag := Tag{Type: TagVideo, Timestamp: 40, Data: make([]byte, 4096)}
	dst := make([]byte, 0, EncodedSize(tag))
	b.SetBytes(int64(EncodedSize(tag)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendTag(dst[:0], tag)
	}
}

func TestAppendTagPanicsOnOversizedData(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	AppendTag(nil, Tag{Type: TagVideo, Data: make([]byte, MaxDataSize+1)})
}

func TestWriterReaderRoundTrip(t *testing.T) {
	big := make([]byte, 300_000) // over readChunk, so the body grows while read
	for i := range big {
		big[i] = byte(i * 7)
	}
	tags := []Tag{
		{Type: TagScript, Data: []byte("meta")},
		{Type: TagVideo, Timestamp: 0, Data: []byte{0x17, 0, 0, 0, 0}},
		{Type: TagAudio, Timestamp: 23, Data: []byte{0xaf, 1, 2, 3}},
		{Type: TagVideo, Timestamp: 0x01000000, Data: big}, // needs the extended byte
		{Type: TagAudio, Timestamp: 0xffffffff, Data: []byte{}},
		{Type: 15, Timestamp: 7, Data: []byte{9}}, // unknown types pass through
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteHeader(true, true); err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := w.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	for name, src := range map[string]io.Reader{
		"whole":    bytes.NewReader(buf.Bytes()),
		"one byte": iotest.OneByteReader(bytes.NewReader(buf.Bytes())),
	} {
		r := NewReader(src)
		h, err := r.ReadHeader()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h != (Header{Version: 1, HasAudio: true, HasVideo: true, DataOffset: 9}) {
			t.Errorf("%s: header = %+v", name, h)
		}
		for i, want := range tags {
			got, err := r.ReadTag()
			if err != nil {
				t.Fatalf("%s: tag %d: %v", name, i, err)
			}
			if got.Type != want.Type || got.Timestamp != want.Timestamp || !bytes.Equal(got.Data, want.Data) {
				t.Errorf("%s: tag %d = {%d %d %d bytes}, want {%d %d %d bytes}", name, i,
					got.Type, got.Timestamp, len(got.Data), want.Type, want.Timestamp, len(want.Data))
			}
			if cap(got.Data) != len(got.Data) {
				t.Errorf("%s: tag %d: cap(Data) = %d, want len %d", name, i, cap(got.Data), len(got.Data))
			}
		}
		if _, err := r.ReadTag(); err != io.EOF {
			t.Errorf("%s: after the last tag: %v, want io.EOF itself", name, err)
		}
	}
}

func TestReadTinyFLV(t *testing.T) {
	r := NewReader(bytes.NewReader(tinyFLV(t)))
	h, err := r.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasAudio || !h.HasVideo {
		t.Errorf("header = %+v, want audio and video", h)
	}
	counts := map[string]int{}
	for {
		tag, err := r.ReadTag()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tag.Type {
		case TagScript:
			name, vals, err := ParseScript(tag.Data)
			if err != nil || name != "onMetaData" || len(vals) != 1 {
				t.Fatalf("ParseScript = %q, %v, %v", name, vals, err)
			}
			meta, _ := vals[0].(ECMAArray)
			if w, _ := meta.Get("width"); w != 32.0 {
				t.Errorf("width = %v, want 32", w)
			}
			counts["script"]++
		case TagVideo:
			v, err := ParseVideo(tag.Data)
			if err != nil || v.Codec != CodecAVC {
				t.Fatalf("ParseVideo = %+v, %v", v, err)
			}
			switch {
			case v.SequenceHeader:
				counts["video header"]++
			case v.Keyframe:
				counts["keyframe"]++
			default:
				counts["inter"]++
			}
		case TagAudio:
			a, err := ParseAudio(tag.Data)
			if err != nil || a.Codec != CodecAAC {
				t.Fatalf("ParseAudio = %+v, %v", a, err)
			}
			if a.SequenceHeader {
				counts["audio header"]++
			} else {
				counts["audio"]++
			}
		}
	}
	for _, k := range []string{"script", "video header", "keyframe", "audio header"} {
		if counts[k] != 1 {
			t.Errorf("%d %s tags, want 1 (all: %v)", counts[k], k, counts)
		}
	}
	if counts["inter"] == 0 || counts["audio"] == 0 {
		t.Errorf("want inter frames and audio frames, got %v", counts)
	}
}

func TestReadHeaderDataOffset(t *testing.T) {
	// A DataOffset of 12 puts three extra bytes before PreviousTagSize0.
	b := []byte{'F', 'L', 'V', 1, 1, 0, 0, 0, 12, 0xee, 0xee, 0xee, 0, 0, 0, 0}
	b = AppendTag(b, Tag{Type: TagVideo, Data: []byte{0x17}})
	r := NewReader(bytes.NewReader(b))
	h, err := r.ReadHeader()
	if err != nil || h.DataOffset != 12 || h.HasAudio || !h.HasVideo {
		t.Fatalf("ReadHeader = %+v, %v", h, err)
	}
	if tag, err := r.ReadTag(); err != nil || !bytes.Equal(tag.Data, []byte{0x17}) {
		t.Errorf("ReadTag = %+v, %v", tag, err)
	}
}

func TestReaderErrors(t *testing.T) {
	header := AppendHeader(nil, true, true)
	tag := AppendTag(nil, Tag{Type: TagAudio, Timestamp: 5, Data: []byte{0xaf, 1, 2}})
	withTag := func(b ...byte) []byte { return append(bytes.Clone(header), b...) }
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
	}{
		{"bad signature", []byte("FLX\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), ErrInvalid},
		{"short header", header[:5], io.ErrUnexpectedEOF},
		{"no PreviousTagSize0", header[:10], io.ErrUnexpectedEOF},
		{"data offset under 9", []byte("FLV\x01\x05\x00\x00\x00\x08\x00\x00\x00\x00"), ErrInvalid},
		{"data offset huge", []byte("FLV\x01\x05\xff\xff\xff\xff\x00\x00\x00\x00"), ErrInvalid},
		{"truncated tag header", withTag(tag[:5]...), io.ErrUnexpectedEOF},
		{"truncated tag body", withTag(tag[:13]...), io.ErrUnexpectedEOF},
		{"no PreviousTagSize", withTag(tag[:len(tag)-1]...), io.ErrUnexpectedEOF},
		{"reserved bits", withTag(append([]byte{0x48}, tag[1:]...)...), ErrInvalid},
		{"encrypted", withTag(append([]byte{0x28}, tag[1:]...)...), errors.ErrUnsupported},
	} {
		r := NewReader(bytes.NewReader(tc.input))
		_, err := r.ReadHeader()
		if err == nil {
			_, err = r.ReadTag()
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// readMethods are the two ways of reading tags, which must agree on every
// bound.
var readMethods = []struct {
	name string
	read func(*Reader) (Tag, error)
}{
	{"ReadTag", (*Reader).ReadTag},
	{"ReadTagReuse", (*Reader).ReadTagReuse},
}

func TestReaderMaxTagSize(t *testing.T) {
	b := AppendHeader(nil, false, true)
	b = AppendTag(b, Tag{Type: TagVideo, Data: make([]byte, 100)})
	for _, m := range readMethods {
		r := NewReader(bytes.NewReader(b))
		r.MaxTagSize = 99
		if _, err := r.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		if _, err := m.read(r); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", m.name, err)
		}
	}
}

func TestReaderSizeFieldDoesNotDriveAllocation(t *testing.T) {
	// A tag that claims 16 MiB and then ends: the reader must not allocate
	// the 16 MiB it was promised.
	b := AppendHeader(nil, false, true)
	b = append(b, TagVideo, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x17, 0x01)
	for _, m := range readMethods {
		var err error
		n := heapAllocated(func() {
			r := NewReader(bytes.NewReader(b))
			if _, err = r.ReadHeader(); err == nil {
				_, err = m.read(r)
			}
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: err = %v, want io.ErrUnexpectedEOF", m.name, err)
		}
		if n > 2*readChunk {
			t.Errorf("%s: allocated %d bytes for a %d-byte input", m.name, n, len(b))
		}
	}
}

func TestWriteTagTooLarge(t *testing.T) {
	w := NewWriter(io.Discard)
	if err := w.WriteTag(Tag{Type: TagVideo, Data: make([]byte, MaxDataSize+1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestWriterReportsWriteErrors(t *testing.T) {
	w := NewWriter(failWriter{})
	if err := w.WriteHeader(true, true); !errors.Is(err, errWrite) {
		t.Errorf("WriteHeader err = %v", err)
	}
	if err := w.WriteTag(Tag{Type: TagAudio}); !errors.Is(err, errWrite) {
		t.Errorf("WriteTag err = %v", err)
	}
}

var errWrite = errors.New("write failed")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestParseHeader(t *testing.T) {
	h, err := ParseHeader([]byte("FLV\x01\x05\x00\x00\x00\x0c"))
	if err != nil || h != (Header{Version: 1, HasAudio: true, HasVideo: true, DataOffset: 12}) || h.FirstTag() != 16 {
		t.Errorf("ParseHeader = %+v (first tag at %d), %v", h, h.FirstTag(), err)
	}
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"FLV\x01\x05\x00\x00", io.ErrUnexpectedEOF},
		{"FLX\x01\x05\x00\x00\x00\x09", ErrInvalid},
		{"FLV\x01\x05\x00\x00\x00\x08", ErrInvalid},
		{"FLV\x01\x05\x00\x01\x00\x01", ErrInvalid},
	} {
		if _, err := ParseHeader([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("ParseHeader(%q) err = %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestParseTagHeader(t *testing.T) {
	b := AppendTag(nil, Tag{Type: TagVideo, Timestamp: 0x12345678, Data: make([]byte, 0x010203)})
	h, err := ParseTagHeader(b)
	if err != nil || h != (TagHeader{Type: TagVideo, DataSize: 0x010203, Timestamp: 0x12345678}) {
		t.Errorf("ParseTagHeader = %+v, %v", h, err)
	}
	if end := h.TagEnd(100); end != int64(100+len(b)) {
		t.Errorf("TagEnd(100) = %d, want %d", end, 100+len(b))
	}
	b[10] = 1
	if h, _ := ParseTagHeader(b); h.StreamID != 1 {
		t.Errorf("stream ID %d, want 1", h.StreamID)
	}
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{b[:10], io.ErrUnexpectedEOF},
		{append([]byte{0x49}, b[1:11]...), ErrInvalid},
		{append([]byte{0x29}, b[1:11]...), errors.ErrUnsupported},
	} {
		if _, err := ParseTagHeader(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("ParseTagHeader(% x) err = %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestPutTimestamp(t *testing.T) {
	b := AppendTag(nil, Tag{Type: TagAudio, Timestamp: 1, Data: []byte{0xaf, 1}})
	PutTimestamp(b, 0xfedcba98)
	if h, _ := ParseTagHeader(b); h.Timestamp != 0xfedcba98 {
		t.Errorf("timestamp %#x after PutTimestamp(0xfedcba98)", h.Timestamp)
	}
}
