package load

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// scanAll feeds data in pieces of size n and returns the tags found.
func scanAll(t *testing.T, data []byte, n int) ([]tagInfo, error) {
	t.Helper()
	var s tagScanner
	var tags []tagInfo
	for len(data) > 0 {
		piece := data[:min(n, len(data))]
		data = data[len(piece):]
		for len(piece) > 0 {
			k, tag, ok, err := s.scan(piece)
			if err != nil {
				return tags, err
			}
			if k == 0 {
				t.Fatal("scan consumed nothing")
			}
			piece = piece[k:]
			if ok {
				tags = append(tags, tag)
			}
		}
	}
	return tags, nil
}

func TestTagScanner(t *testing.T) {
	src := testTags(t, 2000)
	data := encodeFLV(t, src)
	for _, n := range []int{1, 2, 7, 11, 15, 4096, len(data)} {
		got, err := scanAll(t, data, n)
		if err != nil {
			t.Fatalf("pieces of %d: %v", n, err)
		}
		if len(got) != len(src) {
			t.Fatalf("pieces of %d: %d tags, want %d", n, len(got), len(src))
		}
		keyframes := 0
		for i, tag := range got {
			s := src[i]
			wantConfig := i == 1 || i == 2
			wantKey := s.Type == flv.TagVideo && s.Data[0] == 0x17 && s.Data[1] == 1
			if tag.typ != s.Type || tag.ts != s.Timestamp || tag.size != len(s.Data) || tag.config != wantConfig || tag.keyframe != wantKey {
				t.Fatalf("pieces of %d: tag %d is %+v, want type %d ts %d size %d config %v keyframe %v",
					n, i, tag, s.Type, s.Timestamp, len(s.Data), wantConfig, wantKey)
			}
			if tag.keyframe {
				keyframes++
			}
		}
		if keyframes != 2 {
			t.Errorf("%d keyframes in 2 s, want 2", keyframes)
		}
	}
}

func TestTagScannerTimestampsAndOffset(t *testing.T) {
	// A header with a DataOffset of 12 (three extra bytes) and a tag with
	// an extended timestamp.
	data := []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 12, 0xee, 0xee, 0xee, 0, 0, 0, 0}
	data = flv.AppendTag(data, flv.Tag{Type: flv.TagAudio, Timestamp: 0x12345678, Data: []byte{0x2f, 1, 2}})
	got, err := scanAll(t, data, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ts != 0x12345678 || got[0].size != 3 || got[0].config {
		t.Errorf("%+v", got)
	}
}

func TestTagScannerErrors(t *testing.T) {
	good := encodeFLV(t, testTags(t, 100))
	for _, tc := range []struct {
		name  string
		edit  func([]byte) []byte
		error string
	}{
		{"signature", func(b []byte) []byte { b[0] = 'G'; return b }, "signature"},
		{"data offset", func(b []byte) []byte { binary.BigEndian.PutUint32(b[5:], 3); return b }, "data offset 3"},
		{"reserved bits", func(b []byte) []byte { b[13] |= 0x40; return b }, "reserved bits"},
		{"encrypted", func(b []byte) []byte { b[13] |= 0x20; return b }, "encrypted tag"},
		{"previous tag size", func(b []byte) []byte {
			size := int(b[14])<<16 | int(b[15])<<8 | int(b[16])
			b[13+11+size+3]++
			return b
		}, "PreviousTagSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.edit(append([]byte(nil), good...))
			_, err := scanAll(t, data, 5)
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("error %v, want one with %q", err, tc.error)
			}
		})
	}
}

// FuzzTagScanner checks the scanner against flv.Reader: on any input it
// finds the same tags as far as both read, and the way the input is cut
// into pieces changes nothing.
func FuzzTagScanner(f *testing.F) {
	// Small seeds: the fuzzer minimizes what it finds, slowly on long inputs.
	f.Add(encodeFLV(f, []flv.Tag{
		{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1}},
		{Type: flv.TagVideo, Timestamp: 40, Data: []byte{0x17, 1, 0, 0, 0, 0x65}},
		{Type: flv.TagAudio, Timestamp: 1 << 24, Data: []byte{0xaf, 1, 0x21}},
		{Type: flv.TagScript, Timestamp: 50, Data: []byte{2, 0, 1, 'x'}},
	}), uint16(7))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x0c\xee\xee\xee\x00\x00\x00\x00"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		whole, wholeErr := scanAll(t, data, len(data)+1)
		pieces, piecesErr := scanAll(t, data, int(cut)%64+1)
		if len(whole) != len(pieces) || (wholeErr == nil) != (piecesErr == nil) {
			t.Fatalf("whole: %d tags, %v; in pieces: %d tags, %v", len(whole), wholeErr, len(pieces), piecesErr)
		}
		for i := range whole {
			if whole[i] != pieces[i] {
				t.Fatalf("tag %d: %+v whole, %+v in pieces", i, whole[i], pieces[i])
			}
		}
		r := flv.NewReader(bytes.NewReader(data))
		if _, err := r.ReadHeader(); err != nil {
			return
		}
		for i, got := range whole {
			tag, err := r.ReadTag()
			if err != nil {
				t.Fatalf("tag %d: the scanner found %+v, flv.Reader: %v", i, got, err)
			}
			if tag.Type != got.typ || tag.Timestamp != got.ts || len(tag.Data) != got.size {
				t.Fatalf("tag %d: the scanner found %+v, flv.Reader type %d ts %d size %d", i, got, tag.Type, tag.Timestamp, len(tag.Data))
			}
		}
	})
}
