package relay

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler)) // takeovers and ends log at info
	goleak.VerifyTestMain(m)
}

var (
	avcConfig = []byte{0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f, 0xff}
	aacConfig = []byte{0xaf, 0x00, 0x12, 0x10}
)

func keyframe() []byte { return []byte{0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65} }
func interFrame() []byte {
	return []byte{0x27, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x41}
}
func aacFrame() []byte { return []byte{0xaf, 0x01, 0x21, 0x10} }

func metadata(t *testing.T) []byte {
	t.Helper()
	b, err := flv.AppendAMF0(nil, "onMetaData", flv.ECMAArray{
		{Key: "width", Value: 320.0}, {Key: "videocodecid", Value: 7.0},
		{Key: "audiocodecid", Value: 10.0}, {Key: "stereo", Value: false},
		{Key: "encoder", Value: "test"}, {Key: "duration", Value: 4.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t *testing.T, p *Publisher, tagType uint8, ts uint32, data []byte) {
	t.Helper()
	if err := p.WriteTag(flv.Tag{Type: tagType, Timestamp: ts, Data: data}); err != nil {
		t.Fatalf("write tag: %v", err)
	}
}

// publishStart sends what an encoder sends first: metadata, both sequence
// headers, a keyframe and an audio frame.
func publishStart(t *testing.T, p *Publisher, ts uint32) {
	t.Helper()
	mustWrite(t, p, flv.TagScript, 0, metadata(t))
	mustWrite(t, p, flv.TagVideo, 0, avcConfig)
	mustWrite(t, p, flv.TagAudio, 0, aacConfig)
	mustWrite(t, p, flv.TagVideo, ts, keyframe())
	mustWrite(t, p, flv.TagAudio, ts, aacFrame())
}

// viewerTags reads every tag due now from a cursor.
func viewerTags(t *testing.T, c *buffer.Cursor) (tags []flv.Tag, ended bool) {
	t.Helper()
	var stream bytes.Buffer
	for {
		bufs, err := c.Next(nil)
		for _, b := range bufs {
			stream.Write(b)
		}
		if err == io.EOF {
			ended = true
		} else if err != nil {
			t.Fatal(err)
		}
		if err != nil || len(bufs) == 0 {
			break
		}
	}
	data := stream.Bytes()
	if bytes.HasPrefix(data, []byte("FLV")) {
		data = data[flv.HeaderSize+4:]
	}
	r := flv.NewReader(bytes.NewReader(data))
	for {
		tag, err := r.ReadTag()
		if err == io.EOF {
			return tags, ended
		}
		if err != nil {
			t.Fatalf("viewer stream: %v", err)
		}
		tags = append(tags, tag)
	}
}

func TestSecondPublisherRefused(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	p, err := h.Publish("live", "a", func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := h.Publish("live", "a", func() {}); !errors.Is(err, ErrStreamBusy) {
		t.Fatalf("second publish: %v, want ErrStreamBusy", err)
	}
	other, err := h.Publish("live", "b", func() {})
	if err != nil {
		t.Fatalf("another stream: %v", err)
	}
	other.Close()
}

func TestTakeoverKicksTheFirstPublisher(t *testing.T) {
	h := NewHub(Config{Takeover: true})
	defer h.Close()
	var kicked atomic.Bool
	first, _ := h.Publish("live", "a", func() { kicked.Store(true) })
	second, err := h.Publish("live", "a", func() {})
	if err != nil {
		t.Fatal(err)
	}
	if !kicked.Load() {
		t.Fatal("first publisher was not kicked")
	}
	if err := first.WriteTag(flv.Tag{Type: flv.TagVideo, Data: keyframe()}); !errors.Is(err, ErrReplaced) {
		t.Fatalf("replaced publisher's write: %v", err)
	}
	first.Close() // must not end the stream the second one feeds
	if !h.Lookup("live", "a").Live() {
		t.Fatal("stream not live after the old publisher closed")
	}
	second.Close()
}

// TestViewersEndAfterGrace runs on synctest's clock: "before the grace
// period ended" and "after" are then exact, whatever the machine's load.
func TestViewersEndAfterGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const grace = 50 * time.Millisecond
		h := NewHub(Config{Grace: grace})
		defer h.Close()
		p, _ := h.Publish("live", "a", func() {})
		publishStart(t, p, 0)
		cur := h.Lookup("live", "a").Join(buffer.AllTracks).Cursor
		viewerTags(t, cur)
		p.Close()
		time.Sleep(grace - time.Millisecond)
		if h.Lookup("live", "a") == nil {
			t.Fatal("stream gone before its grace period ended")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if h.Lookup("live", "a") != nil {
			t.Fatal("stream still there after its grace period")
		}
		if _, ended := viewerTags(t, cur); !ended {
			t.Fatal("viewer not ended after the grace period")
		}
	})
}

func TestPublisherBackWithinGraceContinuesForViewers(t *testing.T) {
	h := NewHub(Config{Grace: time.Minute})
	defer h.Close()
	p, _ := h.Publish("live", "a", func() {})
	publishStart(t, p, 0)
	mustWrite(t, p, flv.TagVideo, 5000, interFrame())
	cur := h.Lookup("live", "a").Join(buffer.AllTracks).Cursor
	before, _ := viewerTags(t, cur)
	p.Close()

	p2, err := h.Publish("live", "a", func() {})
	if err != nil {
		t.Fatalf("publisher back within grace: %v", err)
	}
	defer p2.Close()
	// The new publisher's clock starts at 0 again, and its encoder chose
	// another profile.
	newAVC := []byte{0x17, 0x00, 0, 0, 0, 0x01, 0x4d, 0x00, 0x1e, 0xff}
	mustWrite(t, p2, flv.TagVideo, 0, newAVC)
	mustWrite(t, p2, flv.TagAudio, 0, aacConfig)
	mustWrite(t, p2, flv.TagVideo, 0, keyframe())
	after, ended := viewerTags(t, cur)
	if ended {
		t.Fatal("viewer ended across the reconnect")
	}
	last := before[len(before)-1].Timestamp
	var configs [][]byte
	for _, tag := range after {
		if tag.Timestamp < last {
			t.Fatalf("timestamp went back from %d to %d", last, tag.Timestamp)
		}
		if tag.Data[1] == 0 {
			configs = append(configs, tag.Data)
		}
	}
	// Both go out: the decoder starts over with the new encoder's stream.
	if len(configs) != 2 || !bytes.Equal(configs[0], newAVC) || !bytes.Equal(configs[1], aacConfig) {
		t.Fatalf("configurations sent after the reconnect: % x; want the new publisher's two", configs)
	}
}

func TestMetadataAnnouncesOnlyDeliveredTracks(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	p, _ := h.Publish("live", "a", func() {})
	defer p.Close()
	// A stream whose metadata mentions audio, but that sends none.
	mustWrite(t, p, flv.TagScript, 0, metadata(t))
	mustWrite(t, p, flv.TagVideo, 0, avcConfig)
	mustWrite(t, p, flv.TagVideo, 0, keyframe())

	tags, _ := viewerTags(t, h.Lookup("live", "a").Join(buffer.AllTracks).Cursor)
	name, values, err := flv.ParseScript(tags[0].Data)
	if err != nil || name != "onMetaData" {
		t.Fatalf("first tag is not onMetaData: %q %v", name, err)
	}
	meta := values[0].(flv.ECMAArray)
	if v, _ := meta.Get("hasAudio"); v != false {
		t.Fatalf("hasAudio = %v, want false", v)
	}
	if v, _ := meta.Get("hasVideo"); v != true {
		t.Fatalf("hasVideo = %v, want true", v)
	}
	if _, ok := meta.Get("audiocodecid"); ok {
		t.Fatal("audiocodecid still announced")
	}
	if _, ok := meta.Get("duration"); ok {
		t.Fatal("a live stream announces a duration")
	}
	if v, _ := meta.Get("encoder"); v != "test" {
		t.Fatal("unrelated keys lost")
	}
}

func TestHubCloseEndsEverything(t *testing.T) {
	h := NewHub(Config{})
	var kicked atomic.Bool
	p, _ := h.Publish("live", "a", func() { kicked.Store(true) })
	publishStart(t, p, 0)
	cur := h.Lookup("live", "a").Join(buffer.AllTracks).Cursor
	h.Close()
	if !kicked.Load() {
		t.Fatal("publisher not kicked")
	}
	if _, ended := viewerTags(t, cur); !ended {
		t.Fatal("viewer not ended")
	}
	p.Close()
	if _, err := h.Publish("live", "a", func() {}); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

func TestGarbageTagIsAnError(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	p, _ := h.Publish("live", "a", func() {})
	defer p.Close()
	if err := p.WriteTag(flv.Tag{Type: flv.TagVideo, Data: []byte{0x17}}); err == nil {
		t.Fatal("truncated video header accepted")
	}
	if err := p.WriteTag(flv.Tag{Type: 7, Data: []byte{1}}); err == nil {
		t.Fatal("unknown tag type accepted")
	}
}

func TestLateMetadataIsStampedZero(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	p, _ := h.Publish("live", "a", func() {})
	defer p.Close()
	mustWrite(t, p, flv.TagVideo, 0, avcConfig)
	mustWrite(t, p, flv.TagVideo, 2000, keyframe())
	mustWrite(t, p, flv.TagScript, 2040, metadata(t)) // GStreamer sends it late
	mustWrite(t, p, flv.TagVideo, 2040, interFrame())
	tags, _ := viewerTags(t, h.Lookup("live", "a").Join(buffer.AllTracks).Cursor)
	if tags[0].Type != flv.TagScript || tags[0].Timestamp != 0 {
		t.Fatalf("first tag: type %d at %d ms, want onMetaData at 0", tags[0].Type, tags[0].Timestamp)
	}
}

func TestUnchangedConfigurationFromTheSameSourceIsNotResent(t *testing.T) {
	h := NewHub(Config{})
	defer h.Close()
	p, _ := h.Publish("live", "a", func() {})
	defer p.Close()
	publishStart(t, p, 0)
	cur := h.Lookup("live", "a").Join(buffer.AllTracks).Cursor
	viewerTags(t, cur)
	mustWrite(t, p, flv.TagVideo, 40, avcConfig) // repeated before every keyframe
	mustWrite(t, p, flv.TagVideo, 40, keyframe())
	tags, _ := viewerTags(t, cur)
	if len(tags) != 1 || tags[0].Data[1] != 1 {
		t.Fatalf("got %d tags, want only the keyframe", len(tags))
	}
}
