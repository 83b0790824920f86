package relay

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
)

// scriptBudget bounds the decoding of a script tag from a publisher or an
// origin: a live stream's onMetaData holds a few dozen values; a keyframe
// index of thousands has no use on a live stream.
var scriptBudget = flv.AMF0Limits{MaxValues: 1 << 14, MaxDepth: 16}

// Publisher feeds one stream. It is used by one goroutine (the publisher's
// connection); Close may come from anywhere.
type Publisher struct {
	stream *Stream
	kick   func()

	closeOnce sync.Once
}

// Stream is the stream this publisher feeds.
func (p *Publisher) Stream() *Stream { return p.stream }

// WriteTag stamps t on the stream's timeline, encodes it once and appends it
// to the window. t.Data is not retained. A tag that cannot be parsed is an
// error: the publisher sends garbage and should be disconnected.
func (p *Publisher) WriteTag(t flv.Tag) error {
	s := p.stream
	if s.current.Load() != p {
		return ErrReplaced
	}
	if len(t.Data) == 0 {
		return nil // some encoders send empty tags; there is nothing to lose
	}
	s.counters.bytesIn.Add(uint64(len(t.Data)))
	pkt := buffer.Packet{Type: t.Type}
	track := flv.TrackOf(t.Type)
	var video flv.VideoInfo
	var audio flv.AudioInfo
	var metadata []any
	var err error
	switch t.Type {
	case flv.TagVideo:
		if video, err = flv.ParseVideo(t.Data); err != nil {
			return fmt.Errorf("video tag: %w", err)
		}
		pkt.Config, pkt.Keyframe = video.SequenceHeader, video.Keyframe
	case flv.TagAudio:
		if audio, err = flv.ParseAudio(t.Data); err != nil {
			return fmt.Errorf("audio tag: %w", err)
		}
		pkt.Config = audio.SequenceHeader
	case flv.TagScript:
		name, values, err := scriptBudget.ParseScript(t.Data)
		if err != nil && len(values) == 0 {
			return fmt.Errorf("script tag: %w", err)
		}
		// Otherwise keep what decoded: encoders append junk to onMetaData
		// now and then, and the values before it are good.
		if name == "onMetaData" {
			pkt.Config = true
			pkt.ByTracks = metadataVariants(values)
			metadata = values
		}
	default:
		return fmt.Errorf("tag type %d", t.Type)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if metadata != nil {
		s.meter.metadata(metadata)
	}
	if pkt.Config {
		// A configuration resent unchanged by the same source (an origin
		// we reconnected to, an encoder that repeats it before every
		// keyframe) tells viewers nothing new.
		last := &s.lastConfig[t.Type]
		if bytes.Equal(*last, t.Data) {
			return nil
		}
		*last = append((*last)[:0], t.Data...)
	}
	switch {
	case pkt.Config && track == flv.NoTrack:
		// onMetaData stays at 0: ffmpeg takes a later one for a subtitle
		// track, and it carries no time anyway.
		pkt.Timestamp = 0
	case pkt.Config || track == flv.NoTrack:
		// Sequence headers and other script data do not move the timeline:
		// encoders stamp them 0, and a resent one must not look like a
		// jump back.
		pkt.Timestamp = s.timeline.current()
	default:
		ts, keep := s.timeline.next(track, t.Timestamp)
		if !keep {
			return nil // sound of the past in a new source's burst
		}
		pkt.Timestamp = ts
	}
	s.meter.count(s.hub.now(), t, pkt.Timestamp, video, audio)
	if pkt.ByTracks != nil {
		for i, body := range pkt.ByTracks {
			pkt.ByTracks[i] = s.encode(flv.Tag{Type: t.Type, Timestamp: pkt.Timestamp, Data: body})
		}
		pkt.Bytes = pkt.ByTracks[buffer.AllTracks]
	} else {
		pkt.Bytes = s.encode(flv.Tag{Type: t.Type, Timestamp: pkt.Timestamp, Data: t.Data})
	}
	s.ring.Append(pkt)
	return nil
}

// encode writes t once, for every viewer. Called with writeMu held.
func (s *Stream) encode(t flv.Tag) []byte {
	return flv.AppendTag(s.arena.alloc(flv.EncodedSize(t)), t)
}

// Close ends the publisher; the stream waits for another for the grace
// period. Safe to call more than once.
func (p *Publisher) Close() {
	p.closeOnce.Do(func() { p.stream.unpublish(p) })
}

// End ends the publisher and its stream at once, without a grace period:
// for a pull that gave up, whose viewers should not wait any longer.
func (p *Publisher) End() {
	p.closeOnce.Do(func() { p.stream.end(p) })
}

// Restart makes the next tag continue the stream's timeline after the real
// time that passed, whatever its timestamp: the tags now come from another
// source, with a clock of its own.
func (p *Publisher) Restart() {
	s := p.stream
	s.writeMu.Lock()
	s.newSourceLocked()
	s.writeMu.Unlock()
}
