package flv

import "bytes"

// What a relay, a player or a file index needs to know of a tag without
// decoding its codec: whether it is configuration a decoder needs before
// any frame, and whether decoding can start at it.

// metadataName is the AMF0 string "onMetaData" that opens its script tag.
var metadataName = []byte("\x02\x00\x0aonMetaData")

// IsMetadata reports whether a script tag body is onMetaData, with or
// without the @setDataFrame an RTMP publisher puts before it. Only the
// name is looked at: the values after it may still fail to decode.
func IsMetadata(data []byte) bool {
	return bytes.HasPrefix(TrimSetDataFrame(data), metadataName)
}

// IsSequenceHeader reports whether t is a codec configuration: a video
// sequence header (AVC, HEVC, AV1, ... decoder configuration record, legacy
// or enhanced RTMP, MPEG2TSSequenceStart included) or an audio one (AAC
// AudioSpecificConfig, enhanced SequenceStart). Only the body's first bytes
// are looked at, so a prefix of the body that holds the audio or video tag
// header is enough. A body that does not parse is not one.
func IsSequenceHeader(t Tag) bool {
	switch t.Type {
	case TagVideo:
		v, err := ParseVideo(t.Data)
		return err == nil && v.SequenceHeader
	case TagAudio:
		a, err := ParseAudio(t.Data)
		return err == nil && a.SequenceHeader
	}
	return false
}

// IsConfig reports whether a player needs t before the frames it decodes:
// onMetaData or a sequence header. A relay keeps the latest of each for
// viewers that come later; a publisher that loops a file sends them once.
func IsConfig(t Tag) bool {
	if t.Type == TagScript {
		return IsMetadata(t.Data)
	}
	return IsSequenceHeader(t)
}

// IsKeyframe reports whether t is a coded video keyframe, where decoding
// can start (see VideoInfo.Keyframe). Like IsSequenceHeader it needs only
// the body's first bytes.
func IsKeyframe(t Tag) bool {
	if t.Type != TagVideo {
		return false
	}
	v, err := ParseVideo(t.Data)
	return err == nil && v.Keyframe
}

// FrameType returns the frame type of a video tag body (VideoInfo's
// FrameType) from its first byte alone, also for codecs ParseVideo does not
// know, whose keyframes players seek to all the same; 0 for an empty body.
func FrameType(data []byte) uint8 {
	if len(data) == 0 {
		return 0
	}
	return data[0] >> 4 & 0x07
}
