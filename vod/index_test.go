package vod

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// checkEntries checks that every position of an index is that of a tag
// of the body (parsed as tags) that is what it must be.
func checkEntries(t *testing.T, pos []float64, tags []tagAt, is func(flv.Tag) bool, what string) {
	t.Helper()
	at := map[int64]flv.Tag{}
	for _, tag := range tags {
		at[tag.pos] = tag.Tag
	}
	for i, p := range pos {
		if tag, ok := at[int64(p)]; !ok || !is(tag) {
			t.Fatalf("entry %d at %v is not %s", i, p, what)
		}
	}
}

// TestIndexedFileIsServedAsStored: a file whose onMetaData already has a
// keyframe index that matches its tags goes out byte for byte.
func TestIndexedFileIsServedAsStored(t *testing.T) {
	s := newVODServer(t, fixAVIndex)
	resp, body := s.get(t, "/vod/"+fixAVIndex)
	if resp.StatusCode != 200 || string(body) != string(readFile(t, filepath.Join(s.dir, fixAVIndex))) {
		t.Fatalf("status %d, body of %d bytes differs from the file", resp.StatusCode, len(body))
	}
	if strings.HasSuffix(resp.Header.Get("Etag"), `-1"`) {
		t.Fatalf("ETag %s is that of a virtual file", resp.Header.Get("Etag"))
	}
}

// TestAudioOnlyIndex: without video, the index lists the audio sequence
// header and then an audio frame a second, so that players can seek.
func TestAudioOnlyIndex(t *testing.T) {
	s := newVODServer(t, fixAudio)
	_, body := s.get(t, "/vod/"+fixAudio)
	h, tags := parseFLV(t, body)
	if !h.HasAudio || h.HasVideo {
		t.Fatalf("header audio %v video %v", h.HasAudio, h.HasVideo)
	}
	pos, times := keyframesOf(t, metaOf(t, tags))
	if len(pos) < 11 || times[0] != 0 {
		t.Fatalf("positions %v times %v", pos, times)
	}
	at := map[int64]flv.Tag{}
	for _, tag := range tags {
		at[tag.pos] = tag.Tag
	}
	first, ok := at[int64(pos[0])]
	if a, err := flv.ParseAudio(first.Data); !ok || err != nil || !a.SequenceHeader {
		t.Fatalf("first entry is not the AAC sequence header")
	}
	for i := 1; i < len(pos); i++ {
		tag, ok := at[int64(pos[i])]
		if !ok || tag.Type != flv.TagAudio || float64(tag.Timestamp)/1000 != times[i] {
			t.Fatalf("entry %d (%v at %v s) is not an audio tag of that time", i, pos[i], times[i])
		}
		if times[i] < float64(i-1) || times[i] >= float64(i-1)+0.1 {
			t.Fatalf("entry %d at %v s", i, times[i])
		}
	}
}

// TestStaleIndexIsReplaced: an onMetaData whose keyframe positions do not
// point at keyframes (here the file was cut after indexing: one frame of
// the first GOP is gone) is replaced by a right one.
func TestStaleIndexIsReplaced(t *testing.T) {
	indexed := readFile(t, fixture(t, fixAVIndex))
	_, tags := parseFLV(t, indexed)
	var cut tagAt // an inter frame of the first GOP
	for _, tag := range tags {
		if tag.Type == flv.TagVideo && tag.Data[0] == 0x27 {
			cut = tag
			break
		}
	}
	stale := append(bytes.Clone(indexed[:cut.pos]), indexed[cut.pos+int64(flv.EncodedSize(cut.Tag)):]...)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "stale.flv"), stale)
	s := serveDir(t, dir, Config{})
	resp, body := s.get(t, "/vod/stale.flv")
	if resp.StatusCode != 200 || bytes.Equal(body, stale) {
		t.Fatalf("status %d, served as stored: %v", resp.StatusCode, bytes.Equal(body, stale))
	}
	_, got := parseFLV(t, body)
	checkIndex(t, body, got)
	// The stored onMetaData's other properties are kept.
	if enc, _ := metaOf(t, got).Get("encoder"); !strings.HasPrefix(fmt.Sprint(enc), "Lavf") {
		t.Fatalf("encoder property: %v", enc)
	}
}
