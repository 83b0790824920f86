package load

import (
	"encoding/binary"
	"fmt"

	"github.com/flvedge/flvedge/flv"
)

// tagInfo is what a viewer learns of a tag: its header, and from the first
// bytes of its body whether it is a keyframe or a codec's configuration.
type tagInfo struct {
	typ      uint8
	ts       uint32
	size     int // body bytes
	keyframe bool
	config   bool // a sequence header, which carries no time of its own
}

// tagScanner follows an FLV stream as it arrives in pieces of any size,
// reading only the file header, the tag headers, the first bytes of audio
// and video bodies and the PreviousTagSize fields; the rest of each body is
// skipped without a copy.
type tagScanner struct {
	state scanState
	buf   [flv.TagHeaderSize]byte // a header under way; the tag header is the largest
	n     int                     // bytes of buf filled
	skip  int                     // bytes to pass over after the file header
	tag   tagInfo
	left  int // body bytes still to come
	head  [bodyHead]byte
	headN int
}

type scanState uint8

const (
	scanFileHeader scanState = iota
	scanSkip                 // header extension and PreviousTagSize0
	scanTagHeader
	scanBody
	scanPrevSize
)

// bodyHead is enough of a body for flv.IsKeyframe and flv.IsSequenceHeader
// to classify it: the longest header they read is an enhanced video header
// with a composition time.
const bodyHead = 16

// scan consumes p up to the end of the next tag, PreviousTagSize included,
// and returns how much it consumed and, if a tag ended there, that tag.
func (s *tagScanner) scan(p []byte) (n int, t tagInfo, ok bool, err error) {
	for n < len(p) {
		switch s.state {
		case scanFileHeader:
			n += s.fill(p[n:], flv.HeaderSize)
			if s.n < flv.HeaderSize {
				return n, tagInfo{}, false, nil
			}
			h, err := flv.ParseHeader(s.buf[:flv.HeaderSize])
			if err != nil {
				return n, tagInfo{}, false, err
			}
			s.skip = int(h.FirstTag()) - flv.HeaderSize
			s.state, s.n = scanSkip, 0
		case scanSkip:
			k := min(s.skip, len(p)-n)
			s.skip -= k
			n += k
			if s.skip == 0 {
				s.state = scanTagHeader
			}
		case scanTagHeader:
			n += s.fill(p[n:], flv.TagHeaderSize)
			if s.n < flv.TagHeaderSize {
				return n, tagInfo{}, false, nil
			}
			h, err := flv.ParseTagHeader(s.buf[:flv.TagHeaderSize])
			if err != nil {
				return n, tagInfo{}, false, err
			}
			s.tag = tagInfo{typ: h.Type, size: h.DataSize, ts: h.Timestamp}
			s.left, s.headN = s.tag.size, 0
			s.state, s.n = scanBody, 0
		case scanBody:
			k := min(s.left, len(p)-n)
			if s.headN < bodyHead && flv.TrackOf(s.tag.typ) != flv.NoTrack {
				s.headN += copy(s.head[s.headN:], p[n:n+k])
			}
			s.left -= k
			n += k
			if s.left == 0 {
				s.state = scanPrevSize
			}
		case scanPrevSize:
			n += s.fill(p[n:], 4)
			if s.n < 4 {
				return n, tagInfo{}, false, nil
			}
			s.state, s.n = scanTagHeader, 0
			if prev := binary.BigEndian.Uint32(s.buf[:4]); prev != uint32(flv.TagHeaderSize+s.tag.size) {
				return n, tagInfo{}, false, fmt.Errorf("PreviousTagSize %d after a tag of %d bytes", prev, flv.TagHeaderSize+s.tag.size)
			}
			s.classify()
			return n, s.tag, true, nil
		}
	}
	return n, tagInfo{}, false, nil
}

// fill adds to buf from p up to size bytes and returns how many it took.
func (s *tagScanner) fill(p []byte, size int) int {
	k := copy(s.buf[s.n:size], p)
	s.n += k
	return k
}

// classify sets keyframe and config from the body's first bytes. A body
// the flv package cannot parse is neither: the viewer only counts it.
func (s *tagScanner) classify() {
	head := flv.Tag{Type: s.tag.typ, Data: s.head[:s.headN]}
	s.tag.keyframe, s.tag.config = flv.IsKeyframe(head), flv.IsSequenceHeader(head)
}
