package flv

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Video frame types (VideoInfo.FrameType).
const (
	FrameTypeKey          uint8 = 1
	FrameTypeInter        uint8 = 2
	FrameTypeDisposable   uint8 = 3
	FrameTypeGeneratedKey uint8 = 4
	FrameTypeCommand      uint8 = 5 // video info / command frame
)

// Video packet types (VideoInfo.PacketType) of enhanced RTMP. The legacy
// AVCPacketType values 0, 1 and 2 of AVC and HEVC map to the first three.
const (
	PacketTypeSequenceStart        uint8 = 0
	PacketTypeCodedFrames          uint8 = 1
	PacketTypeSequenceEnd          uint8 = 2
	PacketTypeCodedFramesX         uint8 = 3
	PacketTypeMetadata             uint8 = 4
	PacketTypeMPEG2TSSequenceStart uint8 = 5
	PacketTypeMultitrack           uint8 = 6
)

// Audio packet types (AudioInfo.PacketType) of enhanced RTMP. The legacy
// AACPacketType values 0 and 1 map to the first two.
const (
	AudioPacketTypeSequenceStart      uint8 = 0
	AudioPacketTypeCodedFrames        uint8 = 1
	AudioPacketTypeSequenceEnd        uint8 = 2
	AudioPacketTypeMultichannelConfig uint8 = 4
	AudioPacketTypeMultitrack         uint8 = 5
)

// packetTypeModEx is the same for audio and video: a modifier extension
// that precedes the real packet type.
const packetTypeModEx = 7

// Multitrack types of enhanced RTMP, shared by audio and video.
const (
	multitrackManyTracksManyCodecs = 2
)

// Sound formats (AudioInfo.Format).
const (
	SoundFormatMP3      uint8 = 2
	SoundFormatExHeader uint8 = 9 // enhanced RTMP: a FourCC follows
	SoundFormatAAC      uint8 = 10
	SoundFormatMP38kHz  uint8 = 14
)

// Legacy video codec IDs that map to FourCCs.
const (
	codecIDAVC  = 7
	codecIDHEVC = 12 // not in Adobe's specification, but widely used before enhanced RTMP
)

// Codec FourCCs as VideoInfo.Codec and AudioInfo.Codec report them.
const (
	CodecAVC  uint32 = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1'
	CodecHEVC uint32 = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1'
	CodecAV1  uint32 = 'a'<<24 | 'v'<<16 | '0'<<8 | '1'
	CodecVP8  uint32 = 'v'<<24 | 'p'<<16 | '0'<<8 | '8'
	CodecVP9  uint32 = 'v'<<24 | 'p'<<16 | '0'<<8 | '9'
	CodecAAC  uint32 = 'm'<<24 | 'p'<<16 | '4'<<8 | 'a'
	CodecMP3  uint32 = '.'<<24 | 'm'<<16 | 'p'<<8 | '3'
	CodecOpus uint32 = 'O'<<24 | 'p'<<16 | 'u'<<8 | 's'
	CodecFLAC uint32 = 'f'<<24 | 'L'<<16 | 'a'<<8 | 'C'
	CodecAC3  uint32 = 'a'<<24 | 'c'<<16 | '-'<<8 | '3'
	CodecEAC3 uint32 = 'e'<<24 | 'c'<<16 | '-'<<8 | '3'
)

// FourCC packs a four-character code big-endian, as enhanced RTMP sends it:
// FourCC("avc1") == CodecAVC. Strings of another length give 0.
func FourCC(s string) uint32 {
	if len(s) != 4 {
		return 0
	}
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// CodecName returns a codec as text for logs and statistics: the FourCC
// ("avc1") when its four bytes are printable ASCII, otherwise the number,
// as for legacy codec IDs ("2").
func CodecName(c uint32) string {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4), c)
	for _, x := range b {
		if x < 0x20 || x > 0x7e {
			return strconv.FormatUint(uint64(c), 10)
		}
	}
	return string(b)
}

// VideoInfo describes the header of a video tag body.
type VideoInfo struct {
	// Codec is a FourCC: CodecAVC and CodecHEVC for the legacy codec IDs 7
	// and 12, the FourCC as sent for enhanced RTMP, and the codec ID number
	// itself (0 to 15) for other legacy codecs. It is 0 for enhanced command
	// frames and for multitrack packets whose tracks have codecs of their
	// own.
	Codec    uint32
	Enhanced bool // ExVideoTagHeader (IsExHeader bit)
	// FrameType is 1 keyframe, 2 inter, 3 disposable, 4 generated
	// keyframe, 5 video info/command frame.
	FrameType uint8
	// PacketType is one of the PacketType constants: as sent for enhanced
	// RTMP (after any ModEx extensions, which are skipped), the
	// AVCPacketType for legacy AVC and HEVC, PacketTypeCodedFrames for other
	// legacy codecs. It is 0 for command frames, which carry no packet.
	PacketType uint8
	// Keyframe is set when FrameType is 1 and the packet carries a coded
	// frame (not a sequence header, end of sequence, metadata or command).
	Keyframe bool
	// SequenceHeader is set for the decoder configuration a new viewer needs
	// before any frame: AVC/HEVC packet type 0, enhanced SequenceStart, and
	// enhanced MPEG2TSSequenceStart, its alternative.
	SequenceHeader bool
	// CompositionTime is the signed 24-bit composition time offset of AVC
	// and HEVC coded frames (legacy NALU packets, enhanced CodedFrames of
	// avc1 and hvc1), in milliseconds; 0 otherwise.
	CompositionTime int32
	// Payload is the rest of data after the header, a subslice of it: the
	// avcC/hvcC/av1C record of a sequence header, the NALUs or OBUs of a
	// frame, the AMF0 values of a metadata packet, the command byte of a
	// command frame, and for multitrack packets the track list, starting at
	// the first track's FourCC or ID.
	Payload []byte
}

// ParseVideo parses the header of a video tag body, legacy or enhanced.
// Enhanced multitrack packets are parsed only up to the track list: Codec,
// Keyframe and SequenceHeader then describe the packet type shared by all
// tracks, while PacketType is PacketTypeMultitrack.
func ParseVideo(data []byte) (VideoInfo, error) {
	if len(data) == 0 {
		return VideoInfo{}, fmt.Errorf("flv: video header: %w", io.ErrUnexpectedEOF)
	}
	v := VideoInfo{FrameType: FrameType(data)}
	var err error
	if data[0]&0x80 == 0 {
		err = v.parseLegacy(data[0]&0x0f, data[1:])
	} else {
		err = v.parseEnhanced(data[0]&0x0f, data[1:])
	}
	if err != nil {
		return VideoInfo{}, fmt.Errorf("flv: video header: %w", err)
	}
	return v, nil
}

func (v *VideoInfo) parseLegacy(codecID uint8, body []byte) error {
	hasPacketType := codecID == codecIDAVC || codecID == codecIDHEVC
	switch codecID {
	case codecIDAVC:
		v.Codec = CodecAVC
	case codecIDHEVC:
		v.Codec = CodecHEVC
	default:
		v.Codec = uint32(codecID)
	}
	if v.FrameType == FrameTypeCommand {
		return v.parseCommand(body)
	}
	if !hasPacketType {
		v.PacketType = PacketTypeCodedFrames
		v.Keyframe = v.FrameType == FrameTypeKey
		v.Payload = body
		return nil
	}
	if len(body) < 4 {
		return io.ErrUnexpectedEOF
	}
	v.PacketType = body[0]
	switch v.PacketType {
	case PacketTypeSequenceStart:
		v.SequenceHeader = true
	case PacketTypeCodedFrames:
		v.Keyframe = v.FrameType == FrameTypeKey
		v.CompositionTime = si24(body[1:4])
	case PacketTypeSequenceEnd:
	default:
		return fmt.Errorf("AVC packet type %d: %w", v.PacketType, ErrInvalid)
	}
	v.Payload = body[4:]
	return nil
}

func (v *VideoInfo) parseEnhanced(packetType uint8, body []byte) error {
	v.Enhanced = true
	pt, body, err := skipModEx(packetType, body)
	if err != nil {
		return err
	}
	// Metadata ignores the frame type, so a command frame type there does
	// not make it a command.
	if v.FrameType == FrameTypeCommand && pt != PacketTypeMetadata {
		return v.parseCommand(body)
	}
	v.PacketType = pt
	if pt == PacketTypeMultitrack {
		return v.parseMultitrack(body)
	}
	if pt > PacketTypeMultitrack {
		return fmt.Errorf("packet type %d: %w", pt, ErrInvalid)
	}
	if len(body) < 4 {
		return io.ErrUnexpectedEOF
	}
	v.Codec = binary.BigEndian.Uint32(body)
	body = body[4:]
	switch pt {
	case PacketTypeSequenceStart, PacketTypeMPEG2TSSequenceStart:
		v.SequenceHeader = true
	case PacketTypeCodedFrames:
		if v.Codec == CodecAVC || v.Codec == CodecHEVC {
			if len(body) < 3 {
				return io.ErrUnexpectedEOF
			}
			v.CompositionTime = si24(body)
			body = body[3:]
		}
		v.Keyframe = v.FrameType == FrameTypeKey
	case PacketTypeCodedFramesX:
		v.Keyframe = v.FrameType == FrameTypeKey
	}
	v.Payload = body
	return nil
}

func (v *VideoInfo) parseMultitrack(body []byte) error {
	if len(body) < 1 {
		return io.ErrUnexpectedEOF
	}
	mtType, pt := body[0]>>4, body[0]&0x0f
	body = body[1:]
	if mtType > multitrackManyTracksManyCodecs {
		return fmt.Errorf("multitrack type %d: %w", mtType, ErrInvalid)
	}
	if pt >= PacketTypeMultitrack {
		return fmt.Errorf("multitrack packet type %d: %w", pt, ErrInvalid)
	}
	if mtType != multitrackManyTracksManyCodecs {
		if len(body) < 4 {
			return io.ErrUnexpectedEOF
		}
		v.Codec = binary.BigEndian.Uint32(body)
		body = body[4:]
	}
	v.SequenceHeader = pt == PacketTypeSequenceStart || pt == PacketTypeMPEG2TSSequenceStart
	v.Keyframe = v.FrameType == FrameTypeKey && (pt == PacketTypeCodedFrames || pt == PacketTypeCodedFramesX)
	v.Payload = body
	return nil
}

func (v *VideoInfo) parseCommand(body []byte) error {
	if len(body) < 1 {
		return io.ErrUnexpectedEOF
	}
	v.Payload = body
	return nil
}

// AudioInfo describes the header of an audio tag body.
type AudioInfo struct {
	// Format is the SoundFormat: 10 AAC, 2 MP3, ..., 9 for enhanced RTMP.
	Format uint8
	// SampleRate (the 2-bit rate field), Stereo and Sample16 are those of
	// the legacy header; enhanced RTMP leaves them to the codec.
	SampleRate       uint8
	Stereo, Sample16 bool
	Enhanced         bool // ExAudioTagHeader (SoundFormat 9)
	// Codec is a FourCC: the FourCC as sent for enhanced RTMP, CodecAAC and
	// CodecMP3 for legacy AAC and MP3, and the SoundFormat number itself
	// for other legacy formats. It is 0 for multitrack packets whose tracks
	// have codecs of their own.
	Codec uint32
	// PacketType is one of the AudioPacketType constants: as sent for
	// enhanced RTMP (after any ModEx extensions, which are skipped), the
	// AACPacketType for legacy AAC, AudioPacketTypeCodedFrames for other
	// legacy formats.
	PacketType uint8
	// SequenceHeader is set for AAC packet type 0 (AudioSpecificConfig) and
	// enhanced SequenceStart.
	SequenceHeader bool
	// Payload is the rest of data after the header, a subslice of it; for
	// multitrack packets, the track list.
	Payload []byte
}

// ParseAudio parses the header of an audio tag body, legacy or enhanced.
// Enhanced multitrack packets are parsed only up to the track list, as in
// ParseVideo. An empty body, which RTMP uses to signal silence, has no
// header and is an error.
func ParseAudio(data []byte) (AudioInfo, error) {
	if len(data) == 0 {
		return AudioInfo{}, fmt.Errorf("flv: audio header: %w", io.ErrUnexpectedEOF)
	}
	a := AudioInfo{Format: data[0] >> 4}
	var err error
	if a.Format == SoundFormatExHeader {
		err = a.parseEnhanced(data[0]&0x0f, data[1:])
	} else {
		err = a.parseLegacy(data[0], data[1:])
	}
	if err != nil {
		return AudioInfo{}, fmt.Errorf("flv: audio header: %w", err)
	}
	return a, nil
}

func (a *AudioInfo) parseLegacy(b0 byte, body []byte) error {
	a.SampleRate = b0 >> 2 & 0x03
	a.Sample16 = b0&0x02 != 0
	a.Stereo = b0&0x01 != 0
	a.PacketType = AudioPacketTypeCodedFrames
	switch a.Format {
	case SoundFormatAAC:
		a.Codec = CodecAAC
		if len(body) < 1 {
			return io.ErrUnexpectedEOF
		}
		a.PacketType = body[0]
		if a.PacketType > AudioPacketTypeCodedFrames {
			return fmt.Errorf("AAC packet type %d: %w", a.PacketType, ErrInvalid)
		}
		a.SequenceHeader = a.PacketType == AudioPacketTypeSequenceStart
		body = body[1:]
	case SoundFormatMP3, SoundFormatMP38kHz:
		a.Codec = CodecMP3
	default:
		a.Codec = uint32(a.Format)
	}
	a.Payload = body
	return nil
}

func (a *AudioInfo) parseEnhanced(packetType uint8, body []byte) error {
	a.Enhanced = true
	pt, body, err := skipModEx(packetType, body)
	if err != nil {
		return err
	}
	a.PacketType = pt
	hasFourCC := true
	if pt == AudioPacketTypeMultitrack {
		if len(body) < 1 {
			return io.ErrUnexpectedEOF
		}
		mtType := body[0] >> 4
		pt = body[0] & 0x0f
		body = body[1:]
		if mtType > multitrackManyTracksManyCodecs {
			return fmt.Errorf("multitrack type %d: %w", mtType, ErrInvalid)
		}
		hasFourCC = mtType != multitrackManyTracksManyCodecs
	}
	switch pt {
	case AudioPacketTypeSequenceStart, AudioPacketTypeCodedFrames, AudioPacketTypeSequenceEnd, AudioPacketTypeMultichannelConfig:
	default:
		return fmt.Errorf("packet type %d: %w", pt, ErrInvalid)
	}
	if hasFourCC {
		if len(body) < 4 {
			return io.ErrUnexpectedEOF
		}
		a.Codec = binary.BigEndian.Uint32(body)
		body = body[4:]
	}
	a.SequenceHeader = pt == AudioPacketTypeSequenceStart
	a.Payload = body
	return nil
}

// skipModEx skips the modifier extensions of enhanced RTMP v2 that may come
// before the real packet type, and returns that type and what follows.
// Every extension takes at least two bytes, so the loop ends.
func skipModEx(pt uint8, body []byte) (uint8, []byte, error) {
	for pt == packetTypeModEx {
		if len(body) < 1 {
			return 0, nil, io.ErrUnexpectedEOF
		}
		size := int(body[0]) + 1
		body = body[1:]
		if size == 256 {
			if len(body) < 2 {
				return 0, nil, io.ErrUnexpectedEOF
			}
			size = int(binary.BigEndian.Uint16(body)) + 1
			body = body[2:]
		}
		// The extension's data, then its type and the next packet type in
		// one byte.
		if len(body) < size+1 {
			return 0, nil, io.ErrUnexpectedEOF
		}
		pt = body[size] & 0x0f
		body = body[size+1:]
	}
	return pt, body, nil
}

// si24 reads a big-endian signed 24-bit integer.
func si24(b []byte) int32 {
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}
