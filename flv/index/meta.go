package index

import "github.com/flvedge/flvedge/flv"

// Metadata is what a stored onMetaData says of the file's keyframe index,
// as yamdi and the muxers that follow it write one.
type Metadata struct {
	Duration    float64   // seconds; 0 when absent
	Positions   []float64 // keyframes.filepositions, when well formed
	Times       []float64 // keyframes.times, as many
	HasKeyIndex bool      // Positions and Times are set
}

// ReadMetadata reads duration and keyframes from the properties of an
// onMetaData (see flv.Properties). Values of other types than the index
// has are taken as absent.
func ReadMetadata(props []flv.Property) Metadata {
	var m Metadata
	for _, p := range props {
		switch p.Key {
		case "duration":
			if d, ok := p.Value.(float64); ok {
				m.Duration = d
			}
		case "keyframes":
			m.Positions, m.Times, m.HasKeyIndex = keyframePositions(p.Value)
		}
	}
	return m
}

// metadataOf decodes an onMetaData body for its index; nil gives none.
func metadataOf(body []byte) Metadata {
	if body == nil {
		return Metadata{}
	}
	_, values, _ := flv.ParseScript(body)
	return ReadMetadata(flv.Properties(values))
}

// keyframePositions reads keyframes.filepositions and keyframes.times
// when they are arrays of numbers of the same, non-zero length.
func keyframePositions(v any) (positions, times []float64, ok bool) {
	var props []flv.Property
	switch v := v.(type) {
	case flv.Object:
		props = v
	case flv.ECMAArray:
		props = v
	default:
		return nil, nil, false
	}
	var pos, ts flv.StrictArray
	for _, p := range props {
		switch p.Key {
		case "filepositions":
			pos, _ = p.Value.(flv.StrictArray)
		case "times":
			ts, _ = p.Value.(flv.StrictArray)
		}
	}
	if len(pos) == 0 || len(pos) != len(ts) {
		return nil, nil, false
	}
	positions, times = make([]float64, len(pos)), make([]float64, len(pos))
	for i := range pos {
		p, ok1 := pos[i].(float64)
		t, ok2 := ts[i].(float64)
		if !ok1 || !ok2 {
			return nil, nil, false
		}
		positions[i], times[i] = p, t
	}
	return positions, times, true
}
