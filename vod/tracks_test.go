package vod

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// TestOnlyOneTrack: only_audio and only_video on stored files, as on live
// streams: a header and an onMetaData that announce the track alone (its
// hasAudio/hasVideo, none of the other track's keys), the file's tags of
// that track and no other, an index of its own, and Range, conditional
// requests and ?start= on that virtual file as on any.
func TestOnlyOneTrack(t *testing.T) {
	for _, name := range []string{fixAV, fixAVIndex} {
		s := newVODServer(t, name)
		whole, full := s.get(t, "/vod/"+name)
		_, all := parseFLV(t, full)
		for _, c := range []struct {
			query        string
			audio, video bool
			gone         []string // keys of the other track
		}{
			{"only_audio=1", true, false, []string{"videocodecid", "width", "height", "framerate", "videodatarate"}},
			{"only_video=true", false, true, []string{"audiocodecid", "audiosamplerate", "stereo", "audiodatarate"}},
		} {
			t.Run(name+"?"+c.query, func(t *testing.T) {
				path := "/vod/" + name + "?" + c.query
				resp, body := s.get(t, path)
				if resp.StatusCode != 200 || resp.Header.Get("Etag") == whole.Header.Get("Etag") {
					t.Fatalf("%d, ETag %s (whole file's %s)", resp.StatusCode, resp.Header.Get("Etag"), whole.Header.Get("Etag"))
				}
				tags := checkPlayable(t, body, c.video, c.audio)
				meta := metaOf(t, tags)
				if v, _ := meta.Get("hasAudio"); v != c.audio {
					t.Fatalf("hasAudio %v", v)
				}
				if v, _ := meta.Get("hasVideo"); v != c.video {
					t.Fatalf("hasVideo %v", v)
				}
				for _, k := range c.gone {
					if _, ok := meta.Get(k); ok {
						t.Fatalf("onMetaData keeps %s", k)
					}
				}
				if got := numberOf(t, meta, "filesize"); got != float64(len(body)) {
					t.Fatalf("filesize %v, body %d", got, len(body))
				}
				// The tags are the file's tags of the track, all of them, in
				// order.
				keep := byte(flv.TagVideo)
				if c.audio {
					keep = flv.TagAudio
				}
				var want, got [][]byte
				for _, tag := range all[1:] {
					if tag.Type == keep {
						want = append(want, tag.Data)
					}
				}
				for _, tag := range tags[1:] {
					if tag.Type != keep {
						t.Fatalf("a tag of type %d at %d", tag.Type, tag.pos)
					}
					got = append(got, tag.Data)
				}
				if len(got) != len(want) || !bytes.Equal(bytes.Join(got, nil), bytes.Join(want, nil)) {
					t.Fatalf("%d tags of the track, the file has %d", len(got), len(want))
				}
				// Every index entry is a tag of the track in this body.
				pos, _ := checkIndex(t, body, tags)
				if len(pos) < 5 {
					t.Fatalf("index of %d entries", len(pos))
				}
				checkEntries(t, pos, tags, func(tag flv.Tag) bool { return tag.Type == keep }, "a tag of the track")
				// ?start= takes offsets into this body, as its index gives them.
				k := int64(pos[len(pos)/2])
				resp2, part := s.get(t, fmt.Sprintf("%s&start=%d", path, k))
				if resp2.StatusCode != 200 || !bytes.HasSuffix(part, body[k:]) {
					t.Fatalf("start=%d: %d, %d bytes", k, resp2.StatusCode, len(part))
				}
				checkPlayable(t, part, c.video, c.audio)
				// A clip of the track, with timestamps from zero.
				resp3, clip := s.get(t, path+"&t=2,5")
				if resp3.StatusCode != 200 {
					t.Fatalf("t=2,5: %d", resp3.StatusCode)
				}
				if f := firstFrame(t, checkPlayable(t, clip, c.video, c.audio)); f.Timestamp > 1000 {
					t.Fatalf("clip starts at %d ms", f.Timestamp)
				}
				checkRanges(t, s, path, body)
			})
		}
		if resp, _ := s.get(t, "/vod/"+name+"?only_audio=1&only_video=1"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("both filters: %d", resp.StatusCode)
		}
	}
}
