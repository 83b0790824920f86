package vod

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

// checkPlayable checks what every seeked response must be: an FLV header,
// onMetaData, the sequence headers of the tracks it has, and then a coded
// keyframe (or, without video, an audio frame) before any other frame; and
// a body that decodes without an error, starting with a keyframe
// (decodeCheck).
func checkPlayable(t *testing.T, body []byte, video, audio bool) []tagAt {
	t.Helper()
	h, tags := parseFLV(t, body)
	if h.HasVideo != video || h.HasAudio != audio {
		t.Fatalf("header: video %v audio %v", h.HasVideo, h.HasAudio)
	}
	metaOf(t, tags)
	var sawVideoSeq, sawAudioSeq bool
	for _, tag := range tags[1:] {
		switch {
		case tag.Type == flv.TagVideo:
			v, err := flv.ParseVideo(tag.Data)
			if err != nil {
				t.Fatal(err)
			}
			if v.SequenceHeader {
				sawVideoSeq = true
				continue
			}
			if !v.Keyframe {
				t.Fatalf("first video frame at %d is not a keyframe", tag.pos)
			}
		case tag.Type == flv.TagAudio:
			a, err := flv.ParseAudio(tag.Data)
			if err != nil {
				t.Fatal(err)
			}
			if a.SequenceHeader {
				sawAudioSeq = true
				continue
			}
			if video {
				t.Fatalf("audio frame at %d before the first keyframe", tag.pos)
			}
		default:
			continue
		}
		break
	}
	if sawVideoSeq != video || sawAudioSeq != audio {
		t.Fatalf("sequence headers before the first frame: video %v audio %v", sawVideoSeq, sawAudioSeq)
	}
	decodeCheck(t, body, tags, video)
	return tags
}

// firstFrame returns the first audio or video tag that is not a sequence
// header.
func firstFrame(t *testing.T, tags []tagAt) tagAt {
	t.Helper()
	for _, tag := range tags {
		switch tag.Type {
		case flv.TagVideo:
			if flv.IsKeyframe(tag.Tag) {
				return tag
			}
		case flv.TagAudio:
			if a, err := flv.ParseAudio(tag.Data); err == nil && !a.SequenceHeader {
				return tag
			}
		}
	}
	t.Fatal("no frame")
	return tagAt{}
}

// TestStartAtKeyframe: ?start= at a position of the index sends the file
// from exactly that tag, after the header, the onMetaData and the sequence
// headers, with the Content-Length, Last-Modified and an ETag of its own.
func TestStartAtKeyframe(t *testing.T) {
	for _, name := range []string{fixAV, fixAVIndex} {
		t.Run(name, func(t *testing.T) {
			s := newVODServer(t, name)
			resp, full := s.get(t, "/vod/"+name)
			_, tags := parseFLV(t, full)
			pos, times := keyframesOf(t, metaOf(t, tags))
			k := len(pos) / 2
			resp2, body := s.get(t, fmt.Sprintf("/vod/%s?start=%d", name, int64(pos[k])))
			if resp2.StatusCode != 200 || resp2.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("status %d, Content-Length %s for %d bytes", resp2.StatusCode, resp2.Header.Get("Content-Length"), len(body))
			}
			if resp2.Header.Get("Last-Modified") != resp.Header.Get("Last-Modified") || resp2.Header.Get("Content-Type") != "video/x-flv" {
				t.Fatalf("headers %v", resp2.Header)
			}
			if e := resp2.Header.Get("Etag"); e == "" || e == resp.Header.Get("Etag") {
				t.Fatalf("ETag %q, whole file's %q", e, resp.Header.Get("Etag"))
			}
			if !bytes.HasSuffix(body, full[int64(pos[k]):]) {
				t.Fatal("the body does not end with the file from the offset")
			}
			got := checkPlayable(t, body, true, true)
			// The onMetaData sent again is the whole file's, with its index.
			if !bytes.Equal(got[0].Data, tags[0].Data) {
				t.Fatal("onMetaData differs from the whole file's")
			}
			if f := firstFrame(t, got); float64(f.Timestamp)/1000 != times[k] {
				t.Fatalf("first frame at %d ms, keyframe %v s", f.Timestamp, times[k])
			}
			// Range applies to the seeked response too.
			resp3, part := s.get(t, fmt.Sprintf("/vod/%s?start=%d", name, int64(pos[k])), "Range", "bytes=100-199")
			if resp3.StatusCode != 206 || !bytes.Equal(part, body[100:200]) {
				t.Fatalf("Range on ?start=: %d", resp3.StatusCode)
			}
		})
	}
}

// TestStartAtRandomOffset: an offset in the middle of a tag moves to the
// next keyframe, found among the tags that follow.
func TestStartAtRandomOffset(t *testing.T) {
	for _, name := range []string{fixAV, fixVideo, fixAudio} {
		t.Run(name, func(t *testing.T) {
			s := newVODServer(t, name)
			_, full := s.get(t, "/vod/"+name)
			_, tags := parseFLV(t, full)
			video, audio := name != fixAudio, name != fixVideo
			for _, off := range []int64{int64(len(full)) / 3, int64(len(full))/2 + 7, int64(len(full)) * 4 / 5, 20} {
				resp, body := s.get(t, fmt.Sprintf("/vod/%s?start=%d", name, off))
				if resp.StatusCode != 200 {
					t.Fatalf("start=%d: %d", off, resp.StatusCode)
				}
				got := checkPlayable(t, body, video, audio)
				f := firstFrame(t, got)
				// The first frame sent is the first one at or after off.
				var want tagAt
				for _, tag := range tags {
					if tag.pos >= off && (video && flv.IsKeyframe(tag.Tag) || !video && tag.Type == flv.TagAudio && tag.Data[1] == 1) {
						want = tag
						break
					}
				}
				if f.Timestamp != want.Timestamp || !bytes.Equal(f.Data, want.Data) {
					t.Fatalf("start=%d: first frame at %d ms, want the one at %d (%d ms)", off, f.Timestamp, want.pos, want.Timestamp)
				}
				if !bytes.HasSuffix(body, full[want.pos:]) {
					t.Fatalf("start=%d: body does not end with the file from %d", off, want.pos)
				}
			}
		})
	}
}

// TestStartWholeFile: 0 and empty mean the whole file; anything but
// digits is a 400, as for MP4 files, not a whole file that would pass for
// a seek.
func TestStartWholeFile(t *testing.T) {
	s := newVODServer(t, fixAV)
	resp, full := s.get(t, "/vod/"+fixAV)
	for _, q := range []string{"start=0", "start=", "start=000"} {
		r, body := s.get(t, "/vod/"+fixAV+"?"+q)
		if r.StatusCode != 200 || !bytes.Equal(body, full) || r.Header.Get("Etag") != resp.Header.Get("Etag") {
			t.Fatalf("%s: %d, %d bytes, ETag %s", q, r.StatusCode, len(body), r.Header.Get("Etag"))
		}
	}
	for _, q := range []string{"start=abc", "start=-5", "start=+100", "start=1e5", "start=0x100", "start=%2010", "start=1.5"} {
		if r, body := s.get(t, "/vod/"+fixAV+"?"+q); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400: %.60q", q, r.StatusCode, body)
		}
	}
}

// TestStartPastEnd: an offset at or after the end, or after the last
// keyframe, is a 416 with the size, never a response that hangs.
func TestStartPastEnd(t *testing.T) {
	s := newVODServer(t, fixAV)
	_, full := s.get(t, "/vod/"+fixAV)
	for _, off := range []string{strconv.Itoa(len(full)), strconv.Itoa(len(full) + 1), strconv.Itoa(len(full) - 10), "99999999999999999999999999"} {
		resp, body := s.get(t, "/vod/"+fixAV+"?start="+off)
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable ||
			resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(full)) || !strings.Contains(string(body), "past") {
			t.Fatalf("start=%s: %d %q %v", off, resp.StatusCode, body, resp.Header)
		}
	}
}

// TestTimeSeek: ?t=start starts at the keyframe at or before start, with
// timestamps from zero and the rest of the file's duration.
func TestTimeSeek(t *testing.T) {
	for _, name := range []string{fixAV, fixVideo, fixAudio} {
		t.Run(name, func(t *testing.T) {
			s := newVODServer(t, name)
			video, audio := name != fixAudio, name != fixVideo
			_, full := s.get(t, "/vod/"+name)
			_, tags := parseFLV(t, full)
			wholeDuration := numberOf(t, metaOf(t, tags), "duration")
			for _, c := range []struct {
				t    string
				at   float64 // the time asked for
				from float64 // seconds of the keyframe it starts at
			}{{"3", 3, 3}, {"3.5", 3.5, 3}, {"0", 0, 0}, {"npt:0:04.2", 4.2, 4}, {"9.99", 9.99, 9}} {
				tol := 0.001
				if !video {
					// Every audio frame is a place to start: the one at or
					// before the time, at most one AAC frame (23 ms) before.
					c.from, tol = c.at, 0.024
				}
				resp, body := s.get(t, "/vod/"+name+"?t="+c.t)
				if resp.StatusCode != 200 {
					t.Fatalf("t=%s: %d", c.t, resp.StatusCode)
				}
				got := checkPlayable(t, body, video, audio)
				f := firstFrame(t, got)
				if f.Timestamp != 0 {
					t.Fatalf("t=%s: first frame at %d ms, want 0", c.t, f.Timestamp)
				}
				meta := metaOf(t, got)
				if d, want := numberOf(t, meta, "duration"), wholeDuration-c.from; d < want-0.001 || d > want+tol {
					t.Fatalf("t=%s: duration %v, want %v", c.t, d, want)
				}
				checkIndex(t, body, got)
				// The original tag at the start is the keyframe of that time.
				var orig tagAt
				for _, tag := range tags {
					if bytes.Equal(tag.Data, f.Data) && tag.Type == f.Type {
						orig = tag
						break
					}
				}
				if at := float64(orig.Timestamp) / 1000; at > c.from+0.001 || at < c.from-tol {
					t.Fatalf("t=%s: starts at the frame of %d ms", c.t, orig.Timestamp)
				}
			}
		})
	}
}

// TestTimeClip: ?t=start,end is a clip with its own duration and index,
// ending before the first tag at end.
func TestTimeClip(t *testing.T) {
	s := newVODServer(t, fixAV)
	for _, c := range []struct {
		t        string
		from, to float64
	}{{"2,5", 2, 5}, {"2.5,7.25", 2, 7.25}, {",4", 0, 4}, {"8,60", 8, 10.08}, {"00:01,00:00:02", 1, 2}} {
		resp, body := s.get(t, "/vod/"+fixAV+"?t="+c.t)
		if resp.StatusCode != 200 {
			t.Fatalf("t=%s: %d", c.t, resp.StatusCode)
		}
		got := checkPlayable(t, body, true, true)
		meta := metaOf(t, got)
		if d := numberOf(t, meta, "duration"); math.Abs(d-(c.to-c.from)) > 0.03 {
			t.Fatalf("t=%s: duration %v, want %v", c.t, d, c.to-c.from)
		}
		var last uint32
		for _, tag := range got[1:] {
			last = max(last, tag.Timestamp)
		}
		if span := c.to - c.from; float64(last)/1000 >= span || float64(last)/1000 < span-0.1 {
			t.Fatalf("t=%s: last tag at %d ms for a clip of %v s", c.t, last, span)
		}
		pos, times := checkIndex(t, body, got)
		if want := int(math.Ceil(c.to-c.from)) + 1; len(pos) != want || times[0] != 0 || times[1] != 0 {
			t.Fatalf("t=%s: index %v %v", c.t, pos, times)
		}
	}
}

// checkIndex checks that every entry of a body's index is a keyframe-type
// video tag of that time (or, without video, an audio tag), the first
// being the sequence header.
func checkIndex(t *testing.T, body []byte, tags []tagAt) (pos, times []float64) {
	t.Helper()
	pos, times = keyframesOf(t, metaOf(t, tags))
	if got := numberOf(t, metaOf(t, tags), "filesize"); got != float64(len(body)) {
		t.Fatalf("filesize %v for %d bytes", got, len(body))
	}
	at := map[int64]flv.Tag{}
	for _, tag := range tags {
		at[tag.pos] = tag.Tag
	}
	for i, p := range pos {
		tag, ok := at[int64(p)]
		if !ok || (tag.Type == flv.TagVideo) != isKeyframeType(tag) || tag.Type == flv.TagScript {
			t.Fatalf("index entry %d at %v is not a keyframe-type tag", i, p)
		}
		if float64(tag.Timestamp)/1000 != times[i] {
			t.Fatalf("index entry %d: time %v, tag at %d ms", i, times[i], tag.Timestamp)
		}
		if i == 0 {
			if v, err := flv.ParseVideo(tag.Data); tag.Type == flv.TagVideo && (err != nil || !v.SequenceHeader) {
				t.Fatal("first index entry is not the sequence header")
			}
		}
	}
	return pos, times
}

// TestTimeErrors: bad syntax is a 400, a start after the media a 416.
func TestTimeErrors(t *testing.T) {
	s := newVODServer(t, fixAV)
	for _, c := range []struct {
		q      string
		status int
	}{
		{"t=abc", 400}, {"t=5,2", 400}, {"t=5,5", 400}, {"t=nan", 400}, {"t=inf", 400}, {"t=1e3", 400},
		{"t=-1", 400}, {"t=1:99", 400}, {"t=0x10", 400}, {"t=1,", 400}, {"t=,", 400}, {"t=1.2.3", 400},
		{"t=99999999999999999999", 400}, {"t=1&start=100", 400},
		{"t=10.5", 416}, {"t=86400,90000", 416},
	} {
		resp, body := s.get(t, "/vod/"+fixAV+"?"+c.q)
		if resp.StatusCode != c.status || len(body) == 0 {
			t.Fatalf("%s: %d %q, want %d", c.q, resp.StatusCode, body, c.status)
		}
	}
}

// TestStartAtLastIndexEntry: every entry of a file's own keyframe index is
// a place to start, the last one too (the end-of-sequence tag that follows
// the last keyframe in ffmpeg's files, which yamdi's index and ours list):
// the file from that tag, not a 416.
func TestStartAtLastIndexEntry(t *testing.T) {
	s := newVODServer(t, fixAV, fixAVIndex)
	for _, name := range indexedCopies(t, s.dir, fixAV, fixAVIndex) {
		t.Run(name, func(t *testing.T) {
			_, full := s.get(t, "/vod/"+name)
			_, tags := parseFLV(t, full)
			pos, _ := keyframesOf(t, metaOf(t, tags))
			last := int64(pos[len(pos)-1])
			resp, body := s.get(t, fmt.Sprintf("/vod/%s?start=%d", name, last))
			if resp.StatusCode != 200 || !bytes.HasSuffix(body, full[last:]) {
				t.Fatalf("start=%d (last entry of %d): %d, %d bytes", last, len(pos), resp.StatusCode, len(body))
			}
			if _, got := parseFLV(t, body); !bytes.Equal(got[0].Data, tags[0].Data) {
				t.Fatal("no onMetaData in front")
			}
		})
	}
}
