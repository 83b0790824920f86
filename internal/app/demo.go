package app

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/relay"
)

// demoFLV is a 4-second H.264 + AAC clip with a keyframe every second, made with:
//
//	ffmpeg -f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
//	  -t 4 -c:v libx264 -profile:v baseline -preset veryfast -b:v 150k -g 25 -keyint_min 25 \
//	  -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 48k -ac 1 -f flv demo.flv
//
//go:embed demo.flv
var demoFLV []byte

// runDemo publishes the demo clip as live/demo at its real-time rate until
// ctx ends, looping with timestamps that keep rising.
func runDemo(ctx context.Context, hub *relay.Hub, logger *slog.Logger) {
	tags, err := readFLV(demoFLV)
	if err != nil {
		logger.Error("demo: broken clip", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pub, err := hub.Publish("live", "demo", cancel)
	if err != nil {
		logger.Error("demo: cannot publish", "err", err)
		return
	}
	defer pub.Close()
	if err := playLoop(ctx, pub, tags); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("demo stopped", "err", err)
	}
}

func readFLV(data []byte) ([]flv.Tag, error) {
	r := flv.NewReader(bytes.NewReader(data))
	if _, err := r.ReadHeader(); err != nil {
		return nil, err
	}
	var tags []flv.Tag
	for {
		t, err := r.ReadTag()
		if err == io.EOF {
			return tags, nil
		}
		if err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
}

// playLoop writes tags paced by their timestamps, again and again. Codec
// configuration is sent once: it does not change between loops.
func playLoop(ctx context.Context, w interface{ WriteTag(flv.Tag) error }, tags []flv.Tag) error {
	if len(tags) == 0 {
		return errors.New("no tags")
	}
	// One frame past the last tag, so that the next loop's first frame does
	// not share its timestamp.
	loopLength := tags[len(tags)-1].Timestamp + 40
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for loop := uint32(0); ; loop++ {
		offset := loop * loopLength
		for _, t := range tags {
			if loop > 0 && flv.IsConfig(t) {
				continue
			}
			t.Timestamp += offset
			if wait := time.Until(start.Add(time.Duration(t.Timestamp) * time.Millisecond)); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-timer.C:
				}
			}
			if err := w.WriteTag(t); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
		}
	}
}
