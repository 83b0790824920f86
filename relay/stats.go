package relay

import (
	"cmp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// Stats is a snapshot of a stream's figures, for metrics and the stats API.
type Stats struct {
	App, Name string
	Live      bool      // a publisher (or an origin) feeds it now
	Since     time.Time // when the stream started here

	Viewers        int
	ViewerSessions uint64 // viewers that ever joined
	BytesIn        uint64 // tag bytes received from publishers or origins
	BytesOut       uint64 // bytes written to viewers
	Skips          uint64 // times a slow viewer was moved to the newest keyframe

	BitrateIn        float64 // bit/s, over the last measuring period
	FPS              float64 // video frames per second, likewise
	KeyframeInterval time.Duration
	VideoCodec       string // "avc1", "hvc1", "av01", or a legacy codec id
	AudioCodec       string // "aac", "mp3", or a sound format number
	Width, Height    int    // from onMetaData
	AudioSampleRate  int    // from onMetaData

	// Upstream is set for pulled streams.
	Upstream Upstream
}

// Upstream describes a pulled stream's link to its origins.
type Upstream struct {
	Origin     string // the origin the stream comes from now, if any
	State      string // "connecting", "streaming" or "retrying"
	Failovers  uint64 // moves to another origin
	Reconnects uint64 // new connections to the same origin
}

// statsPeriod is how long rates are measured over before they are published.
const statsPeriod = 2 * time.Second

// meter measures a stream's input as the publisher writes. It is guarded by
// the stream's writeMu; the published rates are read under the same lock.
type meter struct {
	periodStart      time.Time
	periodBytes      uint64
	periodFrames     int
	bitrate, fps     float64
	lastKey          uint32
	hasKey           bool
	keyframeInterval time.Duration
	// The codecs as the tags say them; named only when Stats asks, so
	// that counting a tag allocates nothing.
	videoCodec    uint32
	audio         flv.AudioInfo
	hasAudio      bool
	width, height int
	sampleRate    int
}

// count takes one tag into the figures; ts is its output timestamp.
func (m *meter) count(now time.Time, t flv.Tag, ts uint32, video flv.VideoInfo, audio flv.AudioInfo) {
	if m.periodStart.IsZero() {
		m.periodStart = now
	}
	m.periodBytes += uint64(len(t.Data))
	switch t.Type {
	case flv.TagVideo:
		m.videoCodec = video.Codec
		if video.Keyframe {
			if m.hasKey && ts > m.lastKey {
				m.keyframeInterval = time.Duration(ts-m.lastKey) * time.Millisecond
			}
			m.lastKey, m.hasKey = ts, true
		}
		if !video.SequenceHeader {
			m.periodFrames++
		}
	case flv.TagAudio:
		m.audio, m.hasAudio = flv.AudioInfo{Format: audio.Format, Enhanced: audio.Enhanced, Codec: audio.Codec}, true
	}
	if elapsed := now.Sub(m.periodStart); elapsed >= statsPeriod {
		m.bitrate = float64(m.periodBytes*8) / elapsed.Seconds()
		m.fps = float64(m.periodFrames) / elapsed.Seconds()
		m.periodStart, m.periodBytes, m.periodFrames = now, 0, 0
	}
}

// metadata takes what onMetaData says about the picture and sound.
func (m *meter) metadata(values []any) {
	for _, p := range flv.Properties(values) {
		n, ok := p.Value.(float64)
		if !ok || n < 0 || n > 1<<20 {
			continue
		}
		switch p.Key {
		case "width":
			m.width = int(n)
		case "height":
			m.height = int(n)
		case "audiosamplerate":
			m.sampleRate = int(n)
		}
	}
}

func audioCodecName(a flv.AudioInfo) string {
	switch {
	case a.Enhanced:
		return flv.CodecName(a.Codec)
	case a.Format == flv.SoundFormatAAC:
		return "aac"
	case a.Format == flv.SoundFormatMP3 || a.Format == flv.SoundFormatMP38kHz:
		return "mp3"
	}
	return flv.CodecName(uint32(a.Format))
}

// counters are the stream's figures that viewers and pulls update from
// their own goroutines.
type counters struct {
	bytesIn, bytesOut, sessions   atomic.Uint64
	failovers, reconnects         atomic.Uint64
	upstreamOrigin, upstreamState atomic.Pointer[string]
}

// Stats returns the stream's figures now.
func (s *Stream) Stats() Stats {
	st := Stats{
		App: s.App, Name: s.Name, Since: s.since,
		Live:           s.current.Load() != nil,
		Viewers:        s.Viewers(),
		ViewerSessions: s.counters.sessions.Load(),
		BytesIn:        s.counters.bytesIn.Load(),
		BytesOut:       s.counters.bytesOut.Load(),
		Skips:          s.ring.Skips(),
		Upstream: Upstream{
			Origin:     loadString(&s.counters.upstreamOrigin),
			State:      loadString(&s.counters.upstreamState),
			Failovers:  s.counters.failovers.Load(),
			Reconnects: s.counters.reconnects.Load(),
		},
	}
	s.writeMu.Lock()
	m := &s.meter
	st.BitrateIn, st.FPS, st.KeyframeInterval = m.bitrate, m.fps, m.keyframeInterval
	if m.videoCodec != 0 {
		st.VideoCodec = flv.CodecName(m.videoCodec)
	}
	if m.hasAudio {
		st.AudioCodec = audioCodecName(m.audio)
	}
	st.Width, st.Height, st.AudioSampleRate = m.width, m.height, m.sampleRate
	s.writeMu.Unlock()
	return st
}

func loadString(p *atomic.Pointer[string]) string {
	if s := p.Load(); s != nil {
		return *s
	}
	return ""
}

// Sent counts bytes written to one of the stream's viewers.
func (s *Stream) Sent(n int64) { s.counters.bytesOut.Add(uint64(n)) }

// Streams lists the hub's streams, sorted by app and name.
func (h *Hub) Streams() []*Stream {
	h.mu.Lock()
	list := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		list = append(list, s)
	}
	h.mu.Unlock()
	slices.SortFunc(list, func(a, b *Stream) int {
		return cmp.Or(strings.Compare(a.App, b.App), strings.Compare(a.Name, b.Name))
	})
	return list
}
