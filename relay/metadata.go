package relay

import (
	"slices"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
)

// fileKeys describe a file, not a live stream: a player that reads a
// duration treats the stream as a clip of that length.
var fileKeys = []string{"duration", "filesize"}

// metadataVariants returns, for each set of announced tracks, the onMetaData
// script body with hasAudio/hasVideo set to match and the other track's keys
// removed (flv.KeptFor), as well as the keys that only describe files. It
// returns nil when values do not hold the usual object, in which case the
// tag passes as it came.
func metadataVariants(values []any) *[buffer.AllTracks + 1][]byte {
	props := flv.Properties(values)
	if props == nil {
		return nil
	}
	var out [buffer.AllTracks + 1][]byte
	for tracks := range buffer.AllTracks + 1 {
		hasAudio, hasVideo := tracks.Has(buffer.TrackAudio), tracks.Has(buffer.TrackVideo)
		kept := make(flv.ECMAArray, 0, len(props)+2)
		for _, p := range props {
			if flv.KeptFor(p.Key, hasAudio, hasVideo) && !slices.Contains(fileKeys, p.Key) {
				kept = append(kept, p)
			}
		}
		kept = append(kept, flv.Property{Key: "hasAudio", Value: hasAudio}, flv.Property{Key: "hasVideo", Value: hasVideo})
		body, err := flv.AppendAMF0(nil, "onMetaData", kept)
		if err != nil {
			return nil // values came from the decoder, so this does not happen
		}
		out[tracks] = body
	}
	return &out
}
