package load

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// testTags is a synthetic stream of the given length: metadata, sequence
// headers, 25 fps video with a keyframe every second, and AAC frames
// every 23 ms. Bodies have the right headers and filler after them: only
// a decoder could tell.
func testTags(t testing.TB, millis uint32) []flv.Tag {
	t.Helper()
	meta, err := flv.AppendAMF0(nil, "onMetaData", flv.ECMAArray{{Key: "duration", Value: 0.0}})
	if err != nil {
		t.Fatal(err)
	}
	tags := []flv.Tag{
		{Type: flv.TagScript, Data: meta},
		{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}},
		{Type: flv.TagAudio, Data: []byte{0xaf, 0, 0x12, 0x10}},
	}
	audio := uint32(0)
	for frame := uint32(0); frame*40 < millis; frame++ {
		ts := frame * 40
		for ; audio <= ts; audio += 23 {
			tags = append(tags, flv.Tag{Type: flv.TagAudio, Timestamp: audio, Data: append([]byte{0xaf, 1}, bytes.Repeat([]byte{0xa}, 200)...)})
		}
		if frame%25 == 0 {
			tags = append(tags, flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: append([]byte{0x17, 1, 0, 0, 0}, bytes.Repeat([]byte{0xb}, 6000)...)})
		} else {
			tags = append(tags, flv.Tag{Type: flv.TagVideo, Timestamp: ts, Data: append([]byte{0x27, 1, 0, 0, 0}, bytes.Repeat([]byte{0xc}, 1500)...)})
		}
	}
	return tags
}

func encodeFLV(t testing.TB, tags []flv.Tag) []byte {
	t.Helper()
	var b bytes.Buffer
	w := flv.NewWriter(&b)
	if err := w.WriteHeader(true, true); err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := w.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func writeTestClip(t testing.TB, millis uint32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.flv")
	if err := os.WriteFile(path, encodeFLV(t, testTags(t, millis)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
