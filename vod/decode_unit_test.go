//go:build !e2e

package vod

import (
	"bytes"
	"math"
	"testing"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/mp4"
)

// decodeCheck checks, without a decoder, what a decoder needs of an FLV
// body (whose tags are parsed in tags): every audio and video tag parses,
// carries a frame or a sequence header, and each track's timestamps never
// go back. The end-to-end tier has ffmpeg decode the body instead
// (decode_e2e_test.go).
func decodeCheck(t *testing.T, body []byte, tags []tagAt, video bool) {
	t.Helper()
	last := map[uint8]uint32{}
	var frames int
	for _, tag := range tags {
		var seq bool
		switch tag.Type {
		case flv.TagVideo:
			v, err := flv.ParseVideo(tag.Data)
			if err != nil {
				t.Fatalf("video tag at %d of %d bytes: %v", tag.pos, len(body), err)
			}
			seq = v.SequenceHeader
		case flv.TagAudio:
			a, err := flv.ParseAudio(tag.Data)
			if err != nil {
				t.Fatalf("audio tag at %d of %d bytes: %v", tag.pos, len(body), err)
			}
			seq = a.SequenceHeader
		default:
			continue
		}
		if prev, ok := last[tag.Type]; ok && tag.Timestamp < prev {
			t.Fatalf("tag at %d: timestamp %d after %d", tag.pos, tag.Timestamp, prev)
		}
		last[tag.Type] = tag.Timestamp
		if !seq {
			frames++
		}
	}
	if _, ok := last[flv.TagVideo]; ok != video || frames == 0 {
		t.Fatalf("%d frames, video %v, want video %v", frames, ok, video)
	}
}

// checkMP4Clip checks a served MP4 clip without a decoder: it parses, its
// moov comes first, it lasts the duration it was asked for, and every
// track has samples. The end-to-end tier has ffprobe and ffmpeg read it
// instead (decode_e2e_test.go).
func checkMP4Clip(t *testing.T, body []byte, duration float64) {
	t.Helper()
	f, err := mp4.Parse(bytes.NewReader(body), int64(len(body)), nil)
	if err != nil {
		t.Fatalf("parsing the clip: %v", err)
	}
	if f.NeedsFaststart() {
		t.Error("the clip's moov follows its mdat")
	}
	if d := float64(f.Duration) / float64(f.Timescale); math.Abs(d-duration) > 0.04 {
		t.Errorf("duration %.3f s, want %.3f", d, duration)
	}
	for _, tr := range f.Tracks {
		if tr.Samples.Len() == 0 {
			t.Errorf("track %d has no sample", tr.ID)
		}
	}
}

// indexedCopies returns the names of the files that
// TestStartAtLastIndexEntry starts at the last index entry of: those given,
// whose index the server makes or takes. The end-to-end tier adds a copy
// that yamdi indexed (yamdi_e2e_test.go).
func indexedCopies(_ *testing.T, _ string, names ...string) []string { return names }
