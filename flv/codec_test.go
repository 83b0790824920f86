package flv

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// cat joins byte slices and strings into one slice.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case int:
			b = append(b, byte(p))
		case string:
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		default:
			panic("cat: unexpected part")
		}
	}
	return b
}

var (
	avcC = []byte{0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1}
	nalu = []byte{0, 0, 0, 2, 0x65, 0x88}
)

func TestParseVideo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
		want  VideoInfo
	}{
		{
			"legacy AVC sequence header",
			cat(0x17, 0x00, 0, 0, 0, avcC),
			VideoInfo{Codec: CodecAVC, FrameType: 1, PacketType: PacketTypeSequenceStart, SequenceHeader: true, Payload: avcC},
		},
		{
			"legacy AVC keyframe",
			cat(0x17, 0x01, 0x00, 0x00, 0x21, nalu),
			VideoInfo{Codec: CodecAVC, FrameType: 1, PacketType: PacketTypeCodedFrames, Keyframe: true, CompositionTime: 33, Payload: nalu},
		},
		{
			"legacy AVC inter frame with negative composition time",
			cat(0x27, 0x01, 0xff, 0xff, 0xfe, nalu),
			VideoInfo{Codec: CodecAVC, FrameType: 2, PacketType: PacketTypeCodedFrames, CompositionTime: -2, Payload: nalu},
		},
		{
			"legacy AVC end of sequence",
			cat(0x17, 0x02, 0, 0, 0),
			VideoInfo{Codec: CodecAVC, FrameType: 1, PacketType: PacketTypeSequenceEnd, Payload: []byte{}},
		},
		{
			"legacy HEVC sequence header",
			cat(0x1c, 0x00, 0, 0, 0, "hvcC"),
			VideoInfo{Codec: CodecHEVC, FrameType: 1, PacketType: PacketTypeSequenceStart, SequenceHeader: true, Payload: []byte("hvcC")},
		},
		{
			"legacy HEVC keyframe",
			cat(0x1c, 0x01, 0, 0, 0x50, nalu),
			VideoInfo{Codec: CodecHEVC, FrameType: 1, PacketType: PacketTypeCodedFrames, Keyframe: true, CompositionTime: 80, Payload: nalu},
		},
		{
			"legacy HEVC inter frame",
			cat(0x2c, 0x01, 0, 0, 0, nalu),
			VideoInfo{Codec: CodecHEVC, FrameType: 2, PacketType: PacketTypeCodedFrames, Payload: nalu},
		},
		{
			"legacy Sorenson H.263 keyframe",
			cat(0x12, "frame"),
			VideoInfo{Codec: 2, FrameType: 1, PacketType: PacketTypeCodedFrames, Keyframe: true, Payload: []byte("frame")},
		},
		{
			"legacy VP6 disposable frame",
			cat(0x34, "frame"),
			VideoInfo{Codec: 4, FrameType: 3, PacketType: PacketTypeCodedFrames, Payload: []byte("frame")},
		},
		{
			"legacy command frame",
			cat(0x57, 0x01),
			VideoInfo{Codec: CodecAVC, FrameType: 5, Payload: []byte{1}},
		},
		{
			"enhanced hvc1 sequence start",
			cat(0x90, "hvc1", "hvcC"),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeSequenceStart, SequenceHeader: true, Payload: []byte("hvcC")},
		},
		{
			"enhanced hvc1 coded frames with composition time",
			cat(0x91, "hvc1", 0xff, 0xff, 0xec, nalu),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeCodedFrames, Keyframe: true, CompositionTime: -20, Payload: nalu},
		},
		{
			"enhanced hvc1 coded frames X",
			cat(0xa3, "hvc1", nalu),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 2, PacketType: PacketTypeCodedFramesX, Payload: nalu},
		},
		{
			"enhanced hvc1 keyframe X",
			cat(0x93, "hvc1", nalu),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeCodedFramesX, Keyframe: true, Payload: nalu},
		},
		{
			"enhanced hvc1 sequence end",
			cat(0x92, "hvc1"),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeSequenceEnd, Payload: []byte{}},
		},
		{
			"enhanced hvc1 metadata with command frame type",
			cat(0xd4, "hvc1", "\x02\x00\x09colorInfo"),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 5, PacketType: PacketTypeMetadata, Payload: []byte("\x02\x00\x09colorInfo")},
		},
		{
			"enhanced av01 sequence start",
			cat(0x90, "av01", 0x81, 0x08, 0x0c, 0x00),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 1, PacketType: PacketTypeSequenceStart, SequenceHeader: true, Payload: []byte{0x81, 0x08, 0x0c, 0x00}},
		},
		{
			"enhanced av01 coded frames have no composition time",
			cat(0x91, "av01", 0x12, 0x00, 0x0a),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 1, PacketType: PacketTypeCodedFrames, Keyframe: true, Payload: []byte{0x12, 0x00, 0x0a}},
		},
		{
			"enhanced av01 inter coded frames X",
			cat(0xa3, "av01", 0x32),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 2, PacketType: PacketTypeCodedFramesX, Payload: []byte{0x32}},
		},
		{
			"enhanced av01 sequence end",
			cat(0x92, "av01"),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 1, PacketType: PacketTypeSequenceEnd, Payload: []byte{}},
		},
		{
			"enhanced av01 metadata",
			cat(0x94, "av01", "amf"),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 1, PacketType: PacketTypeMetadata, Payload: []byte("amf")},
		},
		{
			"enhanced av01 MPEG-2 TS sequence start",
			cat(0x95, "av01", 0x80),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 1, PacketType: PacketTypeMPEG2TSSequenceStart, SequenceHeader: true, Payload: []byte{0x80}},
		},
		{
			"enhanced avc1 sequence start",
			cat(0x90, "avc1", avcC),
			VideoInfo{Codec: CodecAVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeSequenceStart, SequenceHeader: true, Payload: avcC},
		},
		{
			"enhanced avc1 coded frames with composition time",
			cat(0xa1, "avc1", 0, 0, 0x28, nalu),
			VideoInfo{Codec: CodecAVC, Enhanced: true, FrameType: 2, PacketType: PacketTypeCodedFrames, CompositionTime: 40, Payload: nalu},
		},
		{
			"enhanced avc1 coded frames X",
			cat(0x93, "avc1", nalu),
			VideoInfo{Codec: CodecAVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeCodedFramesX, Keyframe: true, Payload: nalu},
		},
		{
			"enhanced avc1 sequence end",
			cat(0x92, "avc1"),
			VideoInfo{Codec: CodecAVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeSequenceEnd, Payload: []byte{}},
		},
		{
			"enhanced avc1 metadata",
			cat(0x94, "avc1", "amf"),
			VideoInfo{Codec: CodecAVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeMetadata, Payload: []byte("amf")},
		},
		{
			"enhanced vp09 coded frames",
			cat(0x91, "vp09", "vp9"),
			VideoInfo{Codec: CodecVP9, Enhanced: true, FrameType: 1, PacketType: PacketTypeCodedFrames, Keyframe: true, Payload: []byte("vp9")},
		},
		{
			"enhanced command frame",
			cat(0xd1, 0x00),
			VideoInfo{Enhanced: true, FrameType: 5, Payload: []byte{0}},
		},
		{
			"enhanced ModEx before coded frames",
			cat(0x97, 0x02, 0x0f, 0x42, 0x3f, 0x01, "hvc1", 0, 0, 0, nalu),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeCodedFrames, Keyframe: true, Payload: nalu},
		},
		{
			"enhanced ModEx with a 16-bit size",
			cat(0x97, 0xff, 0x01, 0x00, bytes.Repeat([]byte{7}, 257), 0x03, "av01", 0x32),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 1, PacketType: PacketTypeCodedFramesX, Keyframe: true, Payload: []byte{0x32}},
		},
		{
			"enhanced multitrack, one track, coded frames",
			cat(0x96, 0x01, "hvc1", 0x00, 0, 0, 0, nalu),
			VideoInfo{Codec: CodecHEVC, Enhanced: true, FrameType: 1, PacketType: PacketTypeMultitrack, Keyframe: true, Payload: cat(0x00, 0, 0, 0, nalu)},
		},
		{
			"enhanced multitrack, many tracks, sequence start",
			cat(0x96, 0x10, "av01", 0x00, 0, 0, 1, 0x81),
			VideoInfo{Codec: CodecAV1, Enhanced: true, FrameType: 1, PacketType: PacketTypeMultitrack, SequenceHeader: true, Payload: cat(0x00, 0, 0, 1, 0x81)},
		},
		{
			"enhanced multitrack, many codecs, inter frames",
			cat(0xa6, 0x23, "avc1", 0x00, 0, 0, 1, 0x41),
			VideoInfo{Enhanced: true, FrameType: 2, PacketType: PacketTypeMultitrack, Payload: cat("avc1", 0x00, 0, 0, 1, 0x41)},
		},
	} {
		got, err := ParseVideo(tc.input)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !videoInfoEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func videoInfoEqual(a, b VideoInfo) bool {
	pa, pb := a.Payload, b.Payload
	a.Payload, b.Payload = nil, nil
	return reflect.DeepEqual(a, b) && bytes.Equal(pa, pb) && (pa == nil) == (pb == nil)
}

func TestParseVideoErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"legacy AVC without packet type", []byte{0x17}, io.ErrUnexpectedEOF},
		{"legacy AVC short composition time", []byte{0x17, 0x01, 0x00}, io.ErrUnexpectedEOF},
		{"legacy AVC unknown packet type", []byte{0x17, 0x03, 0, 0, 0}, ErrInvalid},
		{"legacy command without command", []byte{0x57}, io.ErrUnexpectedEOF},
		{"enhanced short FourCC", []byte{0x90, 'h', 'v'}, io.ErrUnexpectedEOF},
		{"enhanced short composition time", cat(0x91, "hvc1", 0), io.ErrUnexpectedEOF},
		{"enhanced reserved packet type", cat(0x98, "hvc1"), ErrInvalid},
		{"enhanced command without command", []byte{0xd1}, io.ErrUnexpectedEOF},
		{"ModEx without size", []byte{0x97}, io.ErrUnexpectedEOF},
		{"ModEx short data", []byte{0x97, 0x03, 1, 2}, io.ErrUnexpectedEOF},
		{"ModEx short 16-bit size", []byte{0x97, 0xff, 0x01}, io.ErrUnexpectedEOF},
		{"ModEx then reserved packet type", cat(0x97, 0x00, 0x00, 0x0a, "hvc1"), ErrInvalid},
		{"multitrack without type", []byte{0x96}, io.ErrUnexpectedEOF},
		{"multitrack in multitrack", cat(0x96, 0x06, "hvc1"), ErrInvalid},
		{"multitrack reserved type", cat(0x96, 0x31, "hvc1"), ErrInvalid},
		{"multitrack short FourCC", cat(0x96, 0x01, "hv"), io.ErrUnexpectedEOF},
	} {
		if v, err := ParseVideo(tc.input); !errors.Is(err, tc.want) {
			t.Errorf("%s: ParseVideo = %+v, %v; want %v", tc.name, v, err, tc.want)
		}
	}
}

func TestParseAudio(t *testing.T) {
	asc := []byte{0x12, 0x10}
	for _, tc := range []struct {
		name  string
		input []byte
		want  AudioInfo
	}{
		{
			"AAC sequence header",
			cat(0xaf, 0x00, asc),
			AudioInfo{Format: 10, SampleRate: 3, Stereo: true, Sample16: true, Codec: CodecAAC, PacketType: AudioPacketTypeSequenceStart, SequenceHeader: true, Payload: asc},
		},
		{
			"AAC raw",
			cat(0xae, 0x01, 0x21, 0x10),
			AudioInfo{Format: 10, SampleRate: 3, Sample16: true, Codec: CodecAAC, PacketType: AudioPacketTypeCodedFrames, Payload: []byte{0x21, 0x10}},
		},
		{
			"MP3",
			cat(0x2a, 0xff, 0xfb),
			AudioInfo{Format: 2, SampleRate: 2, Sample16: true, Codec: CodecMP3, PacketType: AudioPacketTypeCodedFrames, Payload: []byte{0xff, 0xfb}},
		},
		{
			"G.711 A-law",
			cat(0x72, 0xd5),
			AudioInfo{Format: 7, Sample16: true, Codec: 7, PacketType: AudioPacketTypeCodedFrames, Payload: []byte{0xd5}},
		},
		{
			"enhanced Opus sequence start",
			cat(0x90, "Opus", "OpusHead"),
			AudioInfo{Format: 9, Enhanced: true, Codec: CodecOpus, PacketType: AudioPacketTypeSequenceStart, SequenceHeader: true, Payload: []byte("OpusHead")},
		},
		{
			"enhanced AAC coded frames",
			cat(0x91, "mp4a", 0x21),
			AudioInfo{Format: 9, Enhanced: true, Codec: CodecAAC, PacketType: AudioPacketTypeCodedFrames, Payload: []byte{0x21}},
		},
		{
			"enhanced sequence end",
			cat(0x92, "fLaC"),
			AudioInfo{Format: 9, Enhanced: true, Codec: CodecFLAC, PacketType: AudioPacketTypeSequenceEnd, Payload: []byte{}},
		},
		{
			"enhanced multichannel config",
			cat(0x94, "ac-3", 0x01, 0x06, 0, 0, 0, 0x3f),
			AudioInfo{Format: 9, Enhanced: true, Codec: CodecAC3, PacketType: AudioPacketTypeMultichannelConfig, Payload: []byte{1, 6, 0, 0, 0, 0x3f}},
		},
		{
			"enhanced ModEx",
			cat(0x97, 0x02, 0x00, 0x01, 0x02, 0x01, "Opus", 0xfc),
			AudioInfo{Format: 9, Enhanced: true, Codec: CodecOpus, PacketType: AudioPacketTypeCodedFrames, Payload: []byte{0xfc}},
		},
		{
			"enhanced multitrack, one track, sequence start",
			cat(0x95, 0x00, "mp4a", 0x00, asc),
			AudioInfo{Format: 9, Enhanced: true, Codec: CodecAAC, PacketType: AudioPacketTypeMultitrack, SequenceHeader: true, Payload: cat(0x00, asc)},
		},
		{
			"enhanced multitrack, many codecs",
			cat(0x95, 0x21, "Opus", 0x01, 0, 0, 1, 0xfc),
			AudioInfo{Format: 9, Enhanced: true, PacketType: AudioPacketTypeMultitrack, Payload: cat("Opus", 0x01, 0, 0, 1, 0xfc)},
		},
	} {
		got, err := ParseAudio(tc.input)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !audioInfoEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func audioInfoEqual(a, b AudioInfo) bool {
	pa, pb := a.Payload, b.Payload
	a.Payload, b.Payload = nil, nil
	return reflect.DeepEqual(a, b) && bytes.Equal(pa, pb) && (pa == nil) == (pb == nil)
}

func TestParseAudioErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty (silence)", nil, io.ErrUnexpectedEOF},
		{"AAC without packet type", []byte{0xaf}, io.ErrUnexpectedEOF},
		{"AAC unknown packet type", []byte{0xaf, 0x02}, ErrInvalid},
		{"enhanced short FourCC", cat(0x90, "Op"), io.ErrUnexpectedEOF},
		{"enhanced reserved packet type", cat(0x93, "Opus"), ErrInvalid},
		{"enhanced ModEx truncated", []byte{0x97, 0x05}, io.ErrUnexpectedEOF},
		{"multitrack without type", []byte{0x95}, io.ErrUnexpectedEOF},
		{"multitrack in multitrack", cat(0x95, 0x05, "Opus"), ErrInvalid},
		{"multitrack reserved type", cat(0x95, 0x31, "Opus"), ErrInvalid},
	} {
		if a, err := ParseAudio(tc.input); !errors.Is(err, tc.want) {
			t.Errorf("%s: ParseAudio = %+v, %v; want %v", tc.name, a, err, tc.want)
		}
	}
}

func TestFourCC(t *testing.T) {
	for s, want := range map[string]uint32{
		"avc1": CodecAVC, "hvc1": CodecHEVC, "av01": CodecAV1, "vp08": CodecVP8, "vp09": CodecVP9,
		"mp4a": CodecAAC, ".mp3": CodecMP3, "Opus": CodecOpus, "fLaC": CodecFLAC, "ac-3": CodecAC3, "ec-3": CodecEAC3,
		"": 0, "avc": 0, "avc1x": 0,
	} {
		if got := FourCC(s); got != want {
			t.Errorf("FourCC(%q) = %#x, want %#x", s, got, want)
		}
	}
}

func TestCodecName(t *testing.T) {
	for c, want := range map[uint32]string{CodecAVC: "avc1", CodecMP3: ".mp3", 2: "2", 0: "0"} {
		if got := CodecName(c); got != want {
			t.Errorf("CodecName(%#x) = %q, want %q", c, got, want)
		}
	}
}
