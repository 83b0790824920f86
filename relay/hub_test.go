package relay

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
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

// While viewers wait for a stream's publisher, only that publisher may
// come back; another is refused until the grace period ends, and may then
// start the stream anew. A takeover, too, is for the same publisher only.
func TestGraceHeldForTheSamePublisher(t *testing.T) {
	h := NewHub(Config{Grace: 300 * time.Millisecond, Takeover: true})
	defer h.Close()
	p, err := h.PublishAs("live", "a", "key:1", func() {})
	if err != nil {
		t.Fatal(err)
	}
	publishStart(t, p, 0)
	cur := h.Lookup("live", "a").Join(buffer.AllTracks).Cursor
	viewerTags(t, cur)
	if _, err := h.PublishAs("live", "a", "key:2", func() {}); !errors.Is(err, ErrStreamBusy) {
		t.Fatalf("takeover by another publisher: %v, want ErrStreamBusy", err)
	}
	p.Close()
	for _, other := range []string{"key:2", ""} {
		if _, err := h.PublishAs("live", "a", other, func() {}); !errors.Is(err, ErrStreamHeld) {
			t.Fatalf("%q in the grace period of key:1: %v, want ErrStreamHeld", other, err)
		}
	}
	var kicked atomic.Bool
	back, err := h.PublishAs("live", "a", "key:1", func() { kicked.Store(true) })
	if err != nil {
		t.Fatalf("the same publisher back within grace: %v", err)
	}
	again, err := h.PublishAs("live", "a", "key:1", func() {})
	if err != nil || !kicked.Load() {
		t.Fatalf("takeover by the same publisher: %v, first kicked %v", err, kicked.Load())
	}
	again.Close()
	back.Close()

	// Once the grace period is over the stream is gone, and anyone may
	// start it anew.
	deadline := time.Now().Add(10 * time.Second)
	for h.Lookup("live", "a") != nil {
		if time.Now().After(deadline) {
			t.Fatal("stream still there 10 s after its grace period")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ended := viewerTags(t, cur); !ended {
		t.Fatal("viewer not ended after the grace period")
	}
	p2, err := h.PublishAs("live", "a", "key:2", func() {})
	if err != nil {
		t.Fatalf("another publisher after the grace period: %v", err)
	}
	p2.Close()
}

// Beyond the hub's limits new streams and publishers are refused with
// ErrAtCapacity, and room comes back as they leave.
func TestHubLimits(t *testing.T) {
	h := NewHub(Config{MaxStreams: 2, MaxPublishers: 1, Grace: time.Minute})
	defer h.Close()
	a, err := h.Publish("live", "a", func() {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish("live", "b", func() {}); !errors.Is(err, ErrAtCapacity) || !strings.Contains(err.Error(), "limits.publishers") {
		t.Fatalf("a second publisher: %v, want refused by limits.publishers", err)
	}
	if h.Lookup("live", "b") != nil {
		t.Fatal("a refused publisher left a stream behind")
	}
	a.Close() // a waits in its grace period: still a stream, no publisher
	b, err := h.Publish("live", "b", func() {})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := h.Publish("live", "c", func() {}); !errors.Is(err, ErrAtCapacity) || !strings.Contains(err.Error(), "limits.streams") {
		t.Fatalf("a third stream: %v, want refused by limits.streams", err)
	}
	if err := h.Room(); !errors.Is(err, ErrAtCapacity) {
		t.Fatalf("Room with 2 of 2 streams: %v", err)
	}
	if _, err := h.Publish("live", "a", func() {}); err != nil {
		t.Fatalf("back in its grace period: %v", err)
	}
}

// Past limits.window_bytes every window trims itself to its share, and new
// streams are refused until the windows shrink.
func TestHubWindowLimit(t *testing.T) {
	const limit = 1 << 20
	h := NewHub(Config{MaxWindow: limit})
	defer h.Close()
	garbage := append([]byte{0x27, 1, 0, 0, 0}, make([]byte, 64<<10)...) // inter frames, never a keyframe
	var pubs []*Publisher
	for _, name := range []string{"a", "b", "c"} {
		p, err := h.Publish("live", name, func() {})
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, p)
	}
	for i := range 100 {
		for _, p := range pubs {
			mustWrite(t, p, flv.TagVideo, uint32(i*40), garbage)
		}
		if n := h.WindowBytes(); n > limit+3*int64(len(garbage)+64) {
			t.Fatalf("windows hold %d bytes, limit %d", n, limit)
		}
	}
	if _, err := h.Publish("live", "d", func() {}); !errors.Is(err, ErrAtCapacity) || !strings.Contains(err.Error(), "limits.window_bytes") {
		t.Fatalf("a new stream past the window limit: %v", err)
	}
	for _, p := range pubs {
		p.End()
	}
	if n := h.WindowBytes(); n != 0 {
		t.Fatalf("ended streams still count %d bytes", n)
	}
	if p, err := h.Publish("live", "d", func() {}); err != nil {
		t.Fatalf("a new stream once the others ended: %v", err)
	} else {
		p.Close()
	}
}
