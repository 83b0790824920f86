package buffer

import "github.com/flvedge/flvedge/flv"

// Tracks is a set of media kinds: what a stream carries, what a viewer asked
// for, and what its FLV header announces.
type Tracks uint8

// The bit of each track is 1 << its flv.Track.
const (
	TrackAudio Tracks = 1 << flv.AudioTrack
	TrackVideo Tracks = 1 << flv.VideoTrack

	AllTracks = TrackAudio | TrackVideo
)

// Has reports whether every track of u is in t.
func (t Tracks) Has(u Tracks) bool { return t&u == u }

// trackOf is the track a tag type belongs to; script data belongs to none and
// goes to every viewer.
func trackOf(tagType uint8) Tracks {
	if tr := flv.TrackOf(tagType); tr != flv.NoTrack {
		return 1 << tr
	}
	return 0
}

// Packet is one FLV tag as every viewer receives it: encoded once at publish
// and never modified afterwards, so that viewers can share its bytes.
type Packet struct {
	Type      uint8  // flv.TagAudio, flv.TagVideo or flv.TagScript
	Timestamp uint32 // milliseconds, as written in Bytes
	Keyframe  bool   // a video keyframe: a viewer may start here
	// Config marks codec configuration: an AVC/AAC/enhanced sequence header or
	// onMetaData. A new viewer receives the latest config of each type before
	// its first keyframe; connected viewers receive changes in order.
	Config bool
	Bytes  []byte // the whole encoded tag: header, body, PreviousTagSize
	// ByTracks holds, for onMetaData only, the tag re-encoded with hasAudio
	// and hasVideo set to what the viewer's FLV header announces, indexed by
	// that Tracks value. A nil entry, or a nil ByTracks, means Bytes.
	ByTracks *[AllTracks + 1][]byte
}

// bytesFor is the encoding of p for a viewer that announced tracks t.
func (p *Packet) bytesFor(t Tracks) []byte {
	if p.ByTracks != nil && p.ByTracks[t] != nil {
		return p.ByTracks[t]
	}
	return p.Bytes
}
