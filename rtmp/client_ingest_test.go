package rtmp

import (
	"reflect"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

// clipFixture is three seconds of H.264 (a keyframe every second) and AAC as
// ffmpeg's FLV muxer writes them: testdata/clip.flv in the unit tier, made
// afresh in the end-to-end tier.
const clipFixture = "clip.flv"

var fixtures = &testutil.Fixtures{
	Args: map[string][]string{
		clipFixture: {"-f", "lavfi", "-i", "testsrc=size=96x64:rate=25,pad=320:240:112:96", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
			"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k", "-t", "3"},
	},
	Output: []string{"-f", "flv"},
}

// mediaSummary checks what every real publisher must deliver.
type mediaSummary struct {
	metadata, avcHeader, aacHeader bool
	keyframes, video, audio        int
	span                           uint32 // last video timestamp less the first, in ms
}

func summarize(t *testing.T, tags []flv.Tag) mediaSummary {
	t.Helper()
	var s mediaSummary
	last := map[uint8]uint32{}
	var firstVideo *uint32
	for i, tag := range tags {
		if len(tag.Data) == 0 {
			t.Fatalf("tag %d (type %d) is empty", i, tag.Type)
		}
		if prev, ok := last[tag.Type]; ok && tag.Timestamp < prev {
			t.Errorf("tag %d type %d: timestamp %d after %d", i, tag.Type, tag.Timestamp, prev)
		}
		last[tag.Type] = tag.Timestamp
		switch tag.Type {
		case flv.TagScript:
			name, vals, err := flv.ParseScript(tag.Data)
			if err != nil {
				t.Errorf("script tag %d: %v", i, err)
			}
			if strings.HasPrefix(string(tag.Data), "\x02\x00\x0d@setDataFrame") {
				t.Error("script tag still starts with @setDataFrame")
			}
			if name == "onMetaData" && len(vals) > 0 {
				s.metadata = true
			}
		case flv.TagVideo:
			s.video++
			if firstVideo == nil {
				firstVideo = &tag.Timestamp
			}
			s.span = tag.Timestamp - *firstVideo
			if len(tag.Data) >= 2 && tag.Data[0] == 0x17 && tag.Data[1] == 0 {
				s.avcHeader = true
			}
			if len(tag.Data) >= 2 && tag.Data[0] == 0x17 && tag.Data[1] == 1 {
				s.keyframes++
			}
		case flv.TagAudio:
			s.audio++
			if len(tag.Data) >= 2 && tag.Data[0] == 0xaf && tag.Data[1] == 0 {
				s.aacHeader = true
			}
		}
	}
	if !s.metadata || !s.avcHeader || !s.aacHeader {
		t.Errorf("metadata %v, AVC sequence header %v, AAC sequence header %v", s.metadata, s.avcHeader, s.aacHeader)
	}
	if s.span < 2500 {
		t.Errorf("video timestamps span %d ms, want about 3 s", s.span)
	}
	return s
}

// TestClientPublishesAnEncodedClip: the client publishes what an encoder
// made (onMetaData, the AVC and AAC sequence headers, frames of several
// chunks) to the package's server, which hands its handler every tag as it
// was sent; then the publish ends cleanly on both sides. The whole ingest
// with the client in front: internal/app's TestClientPublishesToIngest
// (e2e).
func TestClientPublishesAnEncodedClip(t *testing.T) {
	tags := testutil.ReadFLVFile(t, fixtures.Path(t, clipFixture))
	ts := startServer(t, nil)
	c, err := dialTest(t, "rtmp://"+ts.addr+"/live/cam")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if err := c.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	sink := ts.rec.next(t)
	got := sink.waitTags(t, len(tags))
	if !reflect.DeepEqual(got, tags) {
		for i := range min(len(got), len(tags)) {
			if !reflect.DeepEqual(got[i], tags[i]) {
				t.Fatalf("tag %d: type %d ts %d %d bytes, sent type %d ts %d %d bytes",
					i, got[i].Type, got[i].Timestamp, len(got[i].Data), tags[i].Type, tags[i].Timestamp, len(tags[i].Data))
			}
		}
		t.Fatalf("got %d tags, sent %d", len(got), len(tags))
	}
	s := summarize(t, got)
	if s.keyframes != 3 || s.video < 75 || s.audio < 120 {
		t.Errorf("%d keyframes, %d video and %d audio tags in 3 s at 25 fps, GOP 25", s.keyframes, s.video, s.audio)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	sink.waitClosed(t)
	ts.logs.waitFor(t, "rtmp publish stop", "stream=cam")
	if strings.Contains(ts.logs.String(), "level=WARN") {
		t.Errorf("the server warned:\n%s", ts.logs.String())
	}
}
