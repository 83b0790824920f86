package flv

import "testing"

func TestTrackOf(t *testing.T) {
	for typ, want := range map[uint8]Track{TagAudio: AudioTrack, TagVideo: VideoTrack, TagScript: NoTrack, 0: NoTrack, 31: NoTrack} {
		if got := TrackOf(typ); got != want {
			t.Errorf("TrackOf(%d) = %d, want %d", typ, got, want)
		}
	}
}

func TestConfigAndKeyframes(t *testing.T) {
	meta, err := AppendAMF0(nil, "onMetaData", ECMAArray{{Key: "duration", Value: 1.0}})
	if err != nil {
		t.Fatal(err)
	}
	cue, err := AppendAMF0(nil, "onCuePoint", ECMAArray{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		tag              Tag
		config, sequence bool
		keyframe         bool
	}{
		{"onMetaData", Tag{Type: TagScript, Data: meta}, true, false, false},
		{"@setDataFrame onMetaData", Tag{Type: TagScript, Data: append(append([]byte(nil), setDataFrame...), meta...)}, true, false, false},
		{"other script data", Tag{Type: TagScript, Data: cue}, false, false, false},
		{"AVC sequence header", Tag{Type: TagVideo, Data: cat(0x17, 0x00, 0, 0, 0, avcC)}, true, true, false},
		{"HEVC enhanced sequence start", Tag{Type: TagVideo, Data: cat(0x90, "hvc1", "hvcC")}, true, true, false},
		{"AV1 sequence start", Tag{Type: TagVideo, Data: cat(0x90, "av01", 0x81)}, true, true, false},
		{"AVC keyframe", Tag{Type: TagVideo, Data: cat(0x17, 0x01, 0, 0, 0, nalu)}, false, false, true},
		{"AVC keyframe, header only", Tag{Type: TagVideo, Data: []byte{0x17, 0x01, 0, 0, 0}}, false, false, true},
		{"AVC inter frame", Tag{Type: TagVideo, Data: cat(0x27, 0x01, 0, 0, 0, nalu)}, false, false, false},
		{"AAC sequence header", Tag{Type: TagAudio, Data: []byte{0xaf, 0x00, 0x12, 0x10}}, true, true, false},
		{"AAC frame", Tag{Type: TagAudio, Data: []byte{0xaf, 0x01, 0x21}}, false, false, false},
		{"Opus sequence start", Tag{Type: TagAudio, Data: cat(0x90, "Opus", 1)}, true, true, false},
		{"garbage video", Tag{Type: TagVideo, Data: []byte{0x17}}, false, false, false},
		{"empty audio", Tag{Type: TagAudio}, false, false, false},
	} {
		if got := IsConfig(tc.tag); got != tc.config {
			t.Errorf("%s: IsConfig = %v", tc.name, got)
		}
		if got := IsSequenceHeader(tc.tag); got != tc.sequence {
			t.Errorf("%s: IsSequenceHeader = %v", tc.name, got)
		}
		if got := IsKeyframe(tc.tag); got != tc.keyframe {
			t.Errorf("%s: IsKeyframe = %v", tc.name, got)
		}
	}
}

func TestFrameType(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want uint8
	}{{nil, 0}, {[]byte{0x17}, FrameTypeKey}, {[]byte{0x27, 1}, FrameTypeInter}, {[]byte{0x9d}, FrameTypeKey}, {[]byte{0xd0}, FrameTypeCommand}} {
		if got := FrameType(tc.data); got != tc.want {
			t.Errorf("FrameType(% x) = %d, want %d", tc.data, got, tc.want)
		}
	}
}
