package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/rtmp"
)

// publisher sends an FLV file over RTMP at its real-time rate, again and
// again, recording when each tag went out.
type publisher struct {
	client  *rtmp.Client
	path    string
	r       *runner
	tags    atomic.Int64
	bytes   atomic.Int64
	maxLate atomic.Int64 // µs behind schedule, at worst
	started time.Time
	done    chan struct{}
	err     error // why it stopped, once done is closed
}

const publishDialTimeout = 10 * time.Second

// startPublisher checks the file, connects and starts publishing until ctx
// ends.
func startPublisher(ctx context.Context, rawURL, path string, r *runner) (*publisher, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	_, err = flv.NewReader(bufio.NewReader(f)).ReadHeader()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dialCtx, cancel := context.WithTimeout(ctx, publishDialTimeout)
	defer cancel()
	c, err := rtmp.Dial(dialCtx, rawURL)
	if err != nil {
		return nil, err
	}
	p := &publisher{client: c, path: path, r: r, started: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = p.loop(ctx)
	}()
	return p, nil
}

// stop waits for the loop, which ctx ends, and unpublishes.
func (p *publisher) stop() error {
	<-p.done
	err := p.client.Close()
	if p.err != nil && !errors.Is(p.err, context.Canceled) {
		return p.err
	}
	return err
}

// loop publishes until ctx ends or publishing fails. Timestamps start at 0
// and keep rising from one pass over the file to the next; codec
// configuration and metadata are sent once, as an encoder would.
func (p *publisher) loop(ctx context.Context) error {
	f, err := os.Open(p.path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	timer := time.NewTimer(0)
	defer timer.Stop()

	start := time.Now()
	var (
		base    int64 = -1 // the file's first timestamp
		offset  int64      // added on this pass
		last    int64      // the latest timestamp sent
		gap     int64 = 40 // a frame's duration, from the latest video frames
		prevV   int64 = -1
		lastDue time.Time
	)
	for pass := 0; ; pass++ {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		br.Reset(f)
		r := flv.NewReader(br)
		if _, err := r.ReadHeader(); err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		sent := 0
		for {
			t, err := r.ReadTag()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p.path, err)
			}
			if pass > 0 && flv.IsConfig(t) {
				continue
			}
			if base < 0 {
				base = int64(t.Timestamp)
			}
			ts := max(int64(t.Timestamp)-base, 0) + offset
			if t.Type == flv.TagVideo {
				if prevV >= 0 && ts > prevV {
					gap = ts - prevV
				}
				prevV = ts
			}
			last = max(last, ts)
			t.Timestamp = uint32(ts)

			// A tag behind one with a later timestamp (files interleave
			// tracks loosely) is due no sooner than that one.
			due := start.Add(time.Duration(ts) * time.Millisecond)
			if due.Before(lastDue) {
				due = lastDue
			}
			lastDue = due
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return ctx.Err()
			}
			now := p.r.now()
			if late := time.Since(due).Microseconds(); late > p.maxLate.Load() {
				p.maxLate.Store(late)
			}
			// Recorded before sending: on loopback a viewer may have the
			// tag before WriteTag returns.
			if track := flv.TrackOf(t.Type); track != flv.NoTrack {
				p.r.clock.set(track, t.Timestamp, now)
			}
			if err := p.client.WriteTag(t); err != nil {
				return err
			}
			p.tags.Add(1)
			p.bytes.Add(int64(flv.EncodedSize(t)))
			sent++
		}
		if sent == 0 {
			return fmt.Errorf("%s: no tags to publish", p.path)
		}
		// The next pass starts one frame after this one's last tag.
		offset = last + gap
	}
}

// The clip published when no file is given: one 2 Mbit/s H.264 + AAC
// stream, 720p30 with a keyframe every 2 s, the stream of issue 4's
// measurements. Video is constant bitrate (filler included) so that the
// test pattern, which compresses far better than a camera, costs what a
// real stream does.
var clipArgs = []string{
	"-hide_banner", "-loglevel", "error",
	"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
	"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
	"-t", "10",
	"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
	"-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
	"-b:v", "1850k", "-minrate", "1850k", "-maxrate", "1850k", "-bufsize", "1850k",
	"-x264-params", "nal-hrd=cbr",
	"-c:a", "aac", "-b:a", "96k",
	"-f", "flv",
}

// clipName changes whenever clipArgs do, so that a cached clip is never stale.
const clipName = "bench-720p30-2mbps-v1.flv"

// generatedClip returns the path of the default clip, made with ffmpeg on
// first use and kept in the user's cache directory.
func generatedClip(ctx context.Context, notes io.Writer) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "flvedge")
	path := filepath.Join(dir, clipName)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", errors.New("no --file to publish, and no ffmpeg to make the default clip with: give --file, or install ffmpeg")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("clip: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "clip-*.flv")
	if err != nil {
		return "", fmt.Errorf("clip: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	fmt.Fprintf(notes, "making the default clip (10 s, 720p30, 2 Mbit/s) with ffmpeg into %s\n", path)
	args := append(append([]string{"-y"}, clipArgs...), tmp.Name())
	if out, err := exec.CommandContext(ctx, ffmpeg, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("clip: ffmpeg: %w\n%s", err, out)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("clip: %w", err)
	}
	return path, nil
}
