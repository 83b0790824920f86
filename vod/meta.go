package vod

import (
	"encoding/binary"
	"math"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/flv/index"
)

// AMF0 markers written here by hand: the keyframe arrays can hold 2^17
// numbers each, and boxing every one into an `any` for flv.AppendAMF0 would
// cost far more than the bytes.
const (
	amfNumber      = 0x00
	amfBoolean     = 0x01
	amfObject      = 0x03
	amfECMAArray   = 0x08
	amfStrictArray = 0x0a
)

// replacedKeys are the onMetaData properties a virtual file gets anew; the
// stored file's values are dropped. The sizes and last* values describe the
// stored layout and would be wrong, lastkeyframelocation harmfully so.
var replacedKeys = map[string]bool{
	"duration": true, "filesize": true, "hasAudio": true, "hasVideo": true,
	"hasKeyframes": true, "keyframes": true, "datasize": true, "videosize": true,
	"audiosize": true, "lasttimestamp": true, "lastkeyframetimestamp": true,
	"lastkeyframelocation": true, "canSeekToEnd": true,
}

// baseMeta is what a stored onMetaData contributes to the ones served:
// its other properties, encoded once.
type baseMeta struct {
	props []byte // AMF0 properties (key, value)..., without container or end marker
	n     int
}

// metaFacts is what the stored onMetaData says that decides how the file
// is served: its keyframe index, and what it gives the ones served.
type metaFacts struct {
	index.Metadata
	base baseMeta
}

// readMeta decodes a stored onMetaData body, for a response with the
// tracks want (the keys that describe another go). A body that does not
// decode contributes what decoded before the damage, or nothing.
func readMeta(body []byte, want index.Tracks) metaFacts {
	var f metaFacts
	if body == nil {
		return f
	}
	_, values, _ := flv.ParseScript(body)
	props := flv.Properties(values)
	if props == nil {
		return f
	}
	f.Metadata = index.ReadMetadata(props)
	var kept flv.ECMAArray
	for _, p := range props {
		if !replacedKeys[p.Key] && flv.KeptFor(p.Key, want.Audio, want.Video) {
			kept = append(kept, p)
		}
	}
	enc, err := flv.AppendAMF0(nil, kept)
	if err != nil || len(enc) < 8 {
		return f // values that decoded always encode; nothing kept otherwise
	}
	f.base = baseMeta{props: enc[5 : len(enc)-3], n: len(kept)}
	return f
}

// metaInfo is what a served onMetaData says about the file it heads.
type metaInfo struct {
	duration           float64 // seconds
	filesize           int64
	hasAudio, hasVideo bool
	positions          []int64 // keyframes.filepositions, in the served file
	times              []float64
}

// metaTagSize is the size of the onMetaData tag appendMetaTag writes for
// base and n keyframes. It does not depend on the values, all AMF0 numbers
// and booleans being of fixed size, which lets a layout reserve the place
// before the positions in it are known.
func metaTagSize(base baseMeta, n int) int64 {
	return int64(len(appendMetaTag(nil, base, metaInfo{positions: make([]int64, n), times: make([]float64, n)})))
}

// The largest onMetaData written (the stored properties, at most
// index.MaxMetaSize re-encoded, and two arrays of index.MaxPoints
// numbers) fits in a tag: this constant does not compile otherwise.
const _ = uint(flv.MaxDataSize - (index.MaxMetaSize + 64<<10 + 2*9*index.MaxPoints))

// appendMetaTag appends a whole onMetaData script tag (header, body,
// PreviousTagSize) at timestamp 0: the stored properties, then ours.
func appendMetaTag(dst []byte, base baseMeta, m metaInfo) []byte {
	body := make([]byte, 0, 256+len(base.props)+18*len(m.positions))
	body = append(body, 0x02, 0x00, 0x0a)
	body = append(body, "onMetaData"...)
	body = append(body, amfECMAArray)
	body = binary.BigEndian.AppendUint32(body, uint32(base.n+6))
	body = append(body, base.props...)
	body = appendNumberProp(body, "duration", m.duration)
	body = appendNumberProp(body, "filesize", float64(m.filesize))
	body = appendBoolProp(body, "hasAudio", m.hasAudio)
	body = appendBoolProp(body, "hasVideo", m.hasVideo)
	body = appendBoolProp(body, "hasKeyframes", len(m.positions) > 0)
	body = appendKey(body, "keyframes")
	body = append(body, amfObject)
	body = appendKey(body, "filepositions")
	body = append(body, amfStrictArray)
	body = binary.BigEndian.AppendUint32(body, uint32(len(m.positions)))
	for _, p := range m.positions {
		body = appendNumber(body, float64(p))
	}
	body = appendKey(body, "times")
	body = append(body, amfStrictArray)
	body = binary.BigEndian.AppendUint32(body, uint32(len(m.times)))
	for _, t := range m.times {
		body = appendNumber(body, t)
	}
	body = append(body, 0, 0, 9) // end of keyframes
	body = append(body, 0, 0, 9) // end of the ECMA array
	return flv.AppendTag(dst, flv.Tag{Type: flv.TagScript, Data: body})
}

func appendKey(b []byte, k string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
	return append(b, k...)
}

func appendNumber(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, amfNumber), math.Float64bits(f))
}

func appendNumberProp(b []byte, k string, f float64) []byte {
	return appendNumber(appendKey(b, k), f)
}

func appendBoolProp(b []byte, k string, v bool) []byte {
	var x byte
	if v {
		x = 1
	}
	return append(appendKey(b, k), amfBoolean, x)
}
