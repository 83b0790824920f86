package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SampleEntry is what the first entry of a track's sample description
// (stsd) says of its coding, as far as players that build their own
// initialization segment need it (Smooth Streaming clients, for one).
type SampleEntry struct {
	// Format is the entry's type: avc1, mp4a, hvc1...
	Format Type
	// Width and Height are a visual entry's size in pixels.
	Width, Height uint16
	// Channels, SampleSize (bits) and SampleRate (Hz) are a sound entry's.
	Channels, SampleSize uint16
	SampleRate           uint32
	// AVCConfig is the payload of an avc1 entry's avcC box: the
	// AVCDecoderConfigurationRecord.
	AVCConfig []byte
	// ObjectType is the objectTypeIndication of an mp4a entry's esds (0x40
	// for MPEG-4 audio), and AudioConfig its DecoderSpecificInfo: for AAC,
	// the AudioSpecificConfig.
	ObjectType  byte
	AudioConfig []byte
}

var (
	typeStsd = Type{'s', 't', 's', 'd'}
	typeAvc1 = Type{'a', 'v', 'c', '1'}
	typeAvcC = Type{'a', 'v', 'c', 'C'}
	typeMp4a = Type{'m', 'p', '4', 'a'}
	typeEsds = Type{'e', 's', 'd', 's'}
)

// SampleEntry reads the first entry of the track's sample description. The
// byte slices it returns share the movie box's bytes.
func (t *Track) SampleEntry() (*SampleEntry, error) {
	stsd := t.Samples.stbl.Child(typeStsd)
	if stsd == nil {
		return nil, fmt.Errorf("track %d: no stsd: %w", t.ID, ErrInvalid)
	}
	_, body, err := fullBox(stsd, 4)
	if err != nil {
		return nil, fmt.Errorf("track %d: %w", t.ID, err)
	}
	if binary.BigEndian.Uint32(body) == 0 {
		return nil, fmt.Errorf("track %d: stsd without entries: %w", t.ID, ErrInvalid)
	}
	typ, size, _, err := decodeHeader(body[4:], int64(len(body)-4))
	if err != nil {
		return nil, fmt.Errorf("track %d: stsd entry: %w", t.ID, err)
	}
	e := &SampleEntry{Format: typ}
	// The entry's body after its header, six reserved bytes and the data
	// reference index.
	entry := body[4+8 : 4+size]
	if len(entry) < 8 {
		return nil, fmt.Errorf("track %d: %s entry of %d bytes: %w", t.ID, typ, size, ErrInvalid)
	}
	entry = entry[8:]
	switch typ {
	case typeAvc1:
		// Visual fields: 16 bytes of pre-defined and reserved, width,
		// height, resolutions, reserved, frame count, compressor name,
		// depth, pre-defined: 70 bytes, then boxes.
		if len(entry) < 70 {
			return nil, fmt.Errorf("track %d: avc1 entry of %d bytes: %w", t.ID, size, ErrInvalid)
		}
		e.Width, e.Height = binary.BigEndian.Uint16(entry[16:]), binary.BigEndian.Uint16(entry[18:])
		if b := childPayload(entry[70:], typeAvcC); b != nil {
			e.AVCConfig = b
		} else {
			return nil, fmt.Errorf("track %d: avc1 without avcC: %w", t.ID, ErrInvalid)
		}
	case typeMp4a:
		// Sound fields: version, revision, vendor, channels, sample size,
		// compression id, packet size, rate (16.16): 20 bytes; QuickTime's
		// version 1 adds 16 more before the boxes.
		if len(entry) < 20 {
			return nil, fmt.Errorf("track %d: mp4a entry of %d bytes: %w", t.ID, size, ErrInvalid)
		}
		skip := 20
		switch binary.BigEndian.Uint16(entry) {
		case 0:
		case 1:
			skip += 16
		default:
			return nil, fmt.Errorf("track %d: mp4a entry version %d: %w", t.ID, binary.BigEndian.Uint16(entry), errors.ErrUnsupported)
		}
		if len(entry) < skip {
			return nil, fmt.Errorf("track %d: mp4a entry of %d bytes: %w", t.ID, size, ErrInvalid)
		}
		e.Channels, e.SampleSize = binary.BigEndian.Uint16(entry[8:]), binary.BigEndian.Uint16(entry[10:])
		e.SampleRate = binary.BigEndian.Uint32(entry[16:]) >> 16
		esds := childPayload(entry[skip:], typeEsds)
		if esds == nil {
			return nil, fmt.Errorf("track %d: mp4a without esds: %w", t.ID, ErrInvalid)
		}
		if e.ObjectType, e.AudioConfig, err = parseESDS(esds); err != nil {
			return nil, fmt.Errorf("track %d: esds: %w", t.ID, err)
		}
	}
	return e, nil
}

// childPayload returns the payload of the first box of type typ among the
// boxes that b holds, or nil. Malformed boxes end the search.
func childPayload(b []byte, typ Type) []byte {
	for len(b) >= 8 {
		t, size, hdr, err := decodeHeader(b, int64(len(b)))
		if err != nil {
			return nil
		}
		if t == typ {
			return b[hdr-headerExtra(t) : size]
		}
		b = b[size:]
	}
	return nil
}

// parseESDS reads the ES descriptor of an esds payload (ISO/IEC 14496-1):
// the object type of its decoder configuration and the decoder specific
// information.
func parseESDS(p []byte) (objectType byte, config []byte, err error) {
	if len(p) < 4 {
		return 0, nil, fmt.Errorf("%d bytes: %w", len(p), ErrInvalid)
	}
	es, _, err := descriptor(p[4:], 3)
	if err != nil {
		return 0, nil, fmt.Errorf("ES descriptor: %w", err)
	}
	if len(es) < 3 {
		return 0, nil, fmt.Errorf("ES descriptor of %d bytes: %w", len(es), ErrInvalid)
	}
	flags := es[2]
	es = es[3:] // ES_ID, flags
	if flags&0x80 != 0 {
		es = es[min(2, len(es)):] // dependsOn_ES_ID
	}
	if flags&0x40 != 0 && len(es) > 0 {
		es = es[min(1+int(es[0]), len(es)):] // URL
	}
	if flags&0x20 != 0 {
		es = es[min(2, len(es)):] // OCR_ES_Id
	}
	dc, _, err := descriptor(es, 4)
	if err != nil {
		return 0, nil, fmt.Errorf("decoder config descriptor: %w", err)
	}
	if len(dc) < 13 {
		return 0, nil, fmt.Errorf("decoder config descriptor of %d bytes: %w", len(dc), ErrInvalid)
	}
	dsi, _, err := descriptor(dc[13:], 5)
	if err != nil {
		return 0, nil, fmt.Errorf("decoder specific info: %w", err)
	}
	return dc[0], dsi, nil
}

// descriptor reads an MPEG-4 descriptor of tag want at the start of b: a
// tag, a length in up to four bytes of seven bits, the body. It returns the
// body and what follows.
func descriptor(b []byte, want byte) (body, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%d bytes: %w", len(b), ErrInvalid)
	}
	if b[0] != want {
		return nil, nil, fmt.Errorf("tag %d where %d was expected: %w", b[0], want, ErrInvalid)
	}
	n, i := 0, 1
	for ; i < len(b) && i <= 4; i++ {
		n = n<<7 | int(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			break
		}
	}
	if i >= len(b) || i > 4 || n > len(b)-i-1 {
		return nil, nil, fmt.Errorf("length runs past the %d bytes: %w", len(b), ErrInvalid)
	}
	return b[i+1 : i+1+n], b[i+1+n:], nil
}

// AVCParameterSets returns the sequence and picture parameter sets of an
// AVCDecoderConfigurationRecord, and the length in bytes of the NAL unit
// size fields of the samples (1, 2 or 4).
func AVCParameterSets(rec []byte) (sps, pps [][]byte, lengthSize int, err error) {
	if len(rec) < 6 || rec[0] != 1 {
		return nil, nil, 0, fmt.Errorf("avcC: %d bytes or version other than 1: %w", len(rec), ErrInvalid)
	}
	lengthSize = int(rec[4]&3) + 1
	if lengthSize == 3 {
		return nil, nil, 0, fmt.Errorf("avcC: NAL unit length of 3 bytes: %w", ErrInvalid)
	}
	read := func(b []byte, count int) ([][]byte, []byte, error) {
		var out [][]byte
		for range count {
			if len(b) < 2 {
				return nil, nil, fmt.Errorf("avcC: parameter set length: %w", ErrInvalid)
			}
			n := int(binary.BigEndian.Uint16(b))
			if n == 0 || n > len(b)-2 {
				return nil, nil, fmt.Errorf("avcC: parameter set of %d bytes in %d: %w", n, len(b)-2, ErrInvalid)
			}
			out = append(out, b[2:2+n])
			b = b[2+n:]
		}
		return out, b, nil
	}
	sps, rest, err := read(rec[6:], int(rec[5]&0x1f))
	if err != nil {
		return nil, nil, 0, err
	}
	if len(rest) < 1 {
		return nil, nil, 0, fmt.Errorf("avcC: no picture parameter set count: %w", ErrInvalid)
	}
	if pps, _, err = read(rest[1:], int(rest[0])); err != nil {
		return nil, nil, 0, err
	}
	if len(sps) == 0 || len(pps) == 0 {
		return nil, nil, 0, fmt.Errorf("avcC: %d SPS and %d PPS: %w", len(sps), len(pps), ErrInvalid)
	}
	return sps, pps, lengthSize, nil
}
