package flv

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// More seeds, in Go's corpus file format, are under testdata/fuzz.

func FuzzAMF0(f *testing.F) {
	f.Add(obsMetadata(f))
	f.Add(connectCommand(f))
	f.Add(mustAMF0(f, "_result", 1.0, nil, Object{{"level", "status"}, {"code", "NetConnection.Connect.Success"}}))
	f.Add([]byte{0x08, 0, 0, 0, 0, 0, 1, 'a', 0x05})                          // miscounted ECMA array, no end marker
	f.Add([]byte{0x10, 0, 1, 'C', 0, 1, 'x', 0x0f, 0, 0, 0, 1, 'y', 0, 0, 9}) // typed object with XML
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x05})                         // lying strict array count
	f.Fuzz(func(t *testing.T, b []byte) {
		var vals []any
		var err error
		// Containers cost more than their bytes (a Property is 32 bytes for
		// a 3-byte null property), but only by a constant factor.
		if n := heapAllocated(func() { vals, err = DecodeAMF0(b) }); n > 64*uint64(len(b))+64<<10 {
			t.Fatalf("decoding %d bytes allocated %d", len(b), n)
		}
		checkSmallBudget(t, b, vals, err)
		if err != nil {
			return
		}
		enc, err := AppendAMF0(nil, vals...)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", vals, err)
		}
		again, err := DecodeAMF0(enc)
		if err != nil {
			t.Fatalf("decoding the re-encoding % x: %v", enc, err)
		}
		if !valuesEqual(vals, again) {
			t.Fatalf("round trip changed the values:\n%#v\n%#v", vals, again)
		}
		if enc2 := mustAMF0(t, again...); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n% x\n% x", enc, enc2)
		}
	})
}

// smallBudget is a budget like an RTMP command's, scaled down so that the
// fuzzer reaches its edges.
var smallBudget = AMF0Limits{MaxBytes: 4096, MaxValues: 64, MaxDepth: 4}

// checkSmallBudget decodes b within smallBudget: whatever b holds, that
// costs a bounded amount of memory, and it decodes exactly what the default
// budget decoded (vals, err) when that fits the small one.
func checkSmallBudget(t *testing.T, b []byte, vals []any, err error) {
	var small []any
	var smallErr error
	// A value costs at most some 200 bytes with its container's growth;
	// strings at most the input's bytes.
	if n := heapAllocated(func() { small, smallErr = smallBudget.Decode(b) }); n > 64*200+2*4096 {
		t.Fatalf("decoding %d bytes within %+v allocated %d", len(b), smallBudget, n)
	}
	count, depth := 0, 0
	for _, v := range vals {
		c, d := amf0Shape(v)
		count, depth = count+c, max(depth, d)
	}
	fits := err == nil && len(b) <= smallBudget.MaxBytes && count <= smallBudget.MaxValues && depth <= smallBudget.MaxDepth
	switch {
	case fits && (smallErr != nil || !valuesEqual(vals, small)):
		t.Fatalf("%d values %d deep fit %+v but decoded to %#v, %v", count, depth, smallBudget, small, smallErr)
	case !fits && smallErr == nil:
		c, d := 0, 0
		for _, v := range small {
			cv, dv := amf0Shape(v)
			c, d = c+cv, max(d, dv)
		}
		if len(b) > smallBudget.MaxBytes || c > smallBudget.MaxValues || d > smallBudget.MaxDepth {
			t.Fatalf("%d bytes, %d values %d deep decoded within %+v", len(b), c, d, smallBudget)
		}
	}
}

// amf0Shape counts the values in v, containers included, and the depth of
// its containers.
func amf0Shape(v any) (count, depth int) {
	var members []any
	switch v := v.(type) {
	case Object:
		for _, p := range v {
			members = append(members, p.Value)
		}
	case ECMAArray:
		for _, p := range v {
			members = append(members, p.Value)
		}
	case StrictArray:
		members = v
	default:
		return 1, 0
	}
	count, inner := 1, 0
	for _, m := range members {
		c, d := amf0Shape(m)
		count, inner = count+c, max(inner, d)
	}
	return count, inner + 1
}

func FuzzReader(f *testing.F) {
	f.Add(tinyFLV(f))
	b := AppendHeader(nil, true, true)
	b = AppendTag(b, Tag{Type: TagScript, Data: TrimSetDataFrame(obsMetadata(f))})
	b = AppendTag(b, Tag{Type: TagVideo, Data: cat(0x17, 0x00, 0, 0, 0, avcC)})
	b = AppendTag(b, Tag{Type: TagAudio, Data: []byte{0xaf, 0x00, 0x12, 0x10}})
	b = AppendTag(b, Tag{Type: TagVideo, Timestamp: 0x01000000, Data: cat(0x17, 0x01, 0, 0, 0x21, nalu)})
	f.Add(b)
	f.Add([]byte("FLV\x01\x01\x00\x00\x00\x0c\xee\xee\xee\x00\x00\x00\x00\x09\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x17"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tags := make([]Tag, 0, len(b)/(TagHeaderSize+prevTagSizeLen)+1)
		var h Header
		var err error
		// Every complete tag's body was in the input; only the last, broken
		// tag may have cost more than its bytes, and at most readChunk.
		n := heapAllocated(func() {
			r := NewReader(bytes.NewReader(b))
			if h, err = r.ReadHeader(); err != nil {
				return
			}
			for {
				var tag Tag
				if tag, err = r.ReadTag(); err != nil {
					return
				}
				tags = append(tags, tag)
			}
		})
		if limit := 4*uint64(len(b)) + 4*readChunk; n > limit {
			t.Fatalf("reading %d bytes allocated %d, over %d", len(b), n, limit)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
			!errors.Is(err, ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("reading stopped with an unclassified error: %v", err)
		}
		for _, tag := range tags {
			switch tag.Type {
			case TagVideo:
				_, _ = ParseVideo(tag.Data)
			case TagAudio:
				_, _ = ParseAudio(tag.Data)
			case TagScript:
				_, _, _ = ParseScript(tag.Data)
			}
			_, _ = IsConfig(tag), IsKeyframe(tag)
		}
		// Reading into one reused buffer finds the same tags and stops
		// the same way, within the same bound.
		var reuseErr error
		n = heapAllocated(func() {
			r := NewReader(bytes.NewReader(b))
			if _, reuseErr = r.ReadHeader(); reuseErr != nil {
				return
			}
			for i := 0; ; i++ {
				var tag Tag
				if tag, reuseErr = r.ReadTagReuse(); reuseErr != nil {
					return
				}
				if i >= len(tags) || tag.Type != tags[i].Type || tag.Timestamp != tags[i].Timestamp || !bytes.Equal(tag.Data, tags[i].Data) {
					t.Fatalf("ReadTagReuse: tag %d differs from ReadTag's", i)
				}
			}
		})
		if limit := 4*uint64(len(b)) + 4*readChunk; n > limit {
			t.Fatalf("reading %d bytes into a reused buffer allocated %d, over %d", len(b), n, limit)
		}
		if (reuseErr == nil) != (err == nil) || reuseErr != nil && reuseErr.Error() != err.Error() {
			t.Fatalf("ReadTagReuse stopped with %v, ReadTag with %v", reuseErr, err)
		}
		// What was read writes back to the same tags.
		var out bytes.Buffer
		w := NewWriter(&out)
		if err := w.WriteHeader(h.HasAudio, h.HasVideo); err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			if err := w.WriteTag(tag); err != nil {
				t.Fatal(err)
			}
		}
		r := NewReader(&out)
		if _, err := r.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		for i, want := range tags {
			got, err := r.ReadTag()
			if err != nil {
				t.Fatalf("re-reading tag %d: %v", i, err)
			}
			if got.Type != want.Type || got.Timestamp != want.Timestamp || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("tag %d changed on re-reading", i)
			}
		}
		if _, err := r.ReadTag(); err != io.EOF {
			t.Fatalf("after the re-read tags: %v, want io.EOF", err)
		}
	})
}

func FuzzParseVideo(f *testing.F) {
	for _, seed := range [][]byte{
		cat(0x17, 0x00, 0, 0, 0, avcC),
		cat(0x17, 0x01, 0, 0, 0x21, nalu),
		cat(0x2c, 0x01, 0xff, 0xff, 0xfe, nalu),
		cat(0x57, 0x00),
		cat(0x90, "hvc1", "hvcC"),
		cat(0x91, "hvc1", 0, 0, 0x28, nalu),
		cat(0xa3, "av01", 0x32),
		cat(0xd4, "avc1", mustAMF0(f, "colorInfo", Object{{"colorConfig", Object{{"bitDepth", 10.0}}}})),
		cat(0x97, 0x02, 0x0f, 0x42, 0x3f, 0x01, "hvc1", 0, 0, 0, nalu),
		cat(0x96, 0x10, "av01", 0x00, 0, 0, 1, 0x81),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVideo(data)
		if err != nil {
			return
		}
		checkPayload(t, data, v.Payload)
		if v.Keyframe && (v.FrameType != FrameTypeKey || v.SequenceHeader) {
			t.Fatalf("keyframe with frame type %d, sequence header %v", v.FrameType, v.SequenceHeader)
		}
		if v.CompositionTime != 0 && v.Codec != CodecAVC && v.Codec != CodecHEVC {
			t.Fatalf("composition time %d for codec %s", v.CompositionTime, CodecName(v.Codec))
		}
	})
}

func FuzzParseAudio(f *testing.F) {
	for _, seed := range [][]byte{
		{0xaf, 0x00, 0x12, 0x10},
		{0xaf, 0x01, 0x21, 0x10, 0x04},
		{0x2f, 0xff, 0xfb, 0x90},
		cat(0x90, "Opus", "OpusHead"),
		cat(0x91, "mp4a", 0x21),
		cat(0x94, "ac-3", 0x01, 0x06, 0, 0, 0, 0x3f),
		cat(0x97, 0x02, 0x00, 0x01, 0x02, 0x01, "Opus", 0xfc),
		cat(0x95, 0x21, "Opus", 0x01, 0, 0, 1, 0xfc),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAudio(data)
		if err != nil {
			return
		}
		checkPayload(t, data, a.Payload)
		if a.Enhanced != (a.Format == SoundFormatExHeader) {
			t.Fatalf("enhanced %v with format %d", a.Enhanced, a.Format)
		}
	})
}

// checkPayload fails unless payload is the tail of data, sharing its bytes.
func checkPayload(t *testing.T, data, payload []byte) {
	t.Helper()
	if len(payload) >= len(data) {
		t.Fatalf("payload of %d bytes from %d bytes of data", len(payload), len(data))
	}
	if tail := data[len(data)-len(payload):]; len(payload) > 0 && &tail[0] != &payload[0] {
		t.Fatal("payload is not a subslice at the end of data")
	}
}
