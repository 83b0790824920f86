// Command bench load-tests an HTTP-FLV server, flvedge or any other: it can
// publish a stream over RTMP, play it with many viewers over HTTP/1.1, and
// report what they received and what the server spent on them. With --vod
// it reads a stored file in Range requests with many readers instead.
//
//	bench --publish rtmp://HOST:1935/live/bench --url http://HOST:8080/live/bench.flv \
//	      --viewers 1000 --ramp 10s --duration 60s --pid $(pidof ingest) --json out.json
//
// With --publish, the FLV file given by --file is published at its
// real-time rate, looping with rising timestamps. Without --file, a 10 s
// clip of the stream the project's benchmarks use (H.264 + AAC, 720p30,
// 2 Mbit/s constant bitrate, a keyframe every 2 s) is made with ffmpeg on
// first use and kept in the user's cache directory (~/.cache/flvedge).
// Without --url, the tool only publishes, for the --ramp and --duration.
// Without --publish, the viewers play a stream published by someone else.
//
// One viewer first plays the URL until it gets a keyframe, so that a wrong
// URL fails at once. Then --viewers connections are started, spread evenly
// over --ramp. Measuring starts when every viewer has started and received
// its first keyframe (or failed, or 10 s have passed), and lasts
// --duration. A progress line goes to stderr every second; at the end a
// table goes to stdout and, with --json, the same figures to a file.
// Ctrl-C ends the measurement early and still reports.
//
// What is reported:
//
//   - connections ok (still receiving at the end) and failed, with causes;
//   - delivered: FLV bytes received in the measured window, in Mbit/s in
//     total and per viewer (mean and minimum);
//   - time to first byte of the response and to the first whole video
//     keyframe, from the start of the connection (p50, p99);
//   - delivery lag, over every audio and video tag received in the
//     measured window: how long after the tool published a tag a viewer
//     had all of it (p50, p99, max). Without --publish the publish times
//     are unknown, and the lag is counted from the first viewer to receive
//     each tag instead, which hides any delay all viewers share. With
//     --ref-url, the lag of its --ref-viewers is reported apart: the
//     reference for the --url's, measured in the same run (an edge's
//     viewers against its ingest's);
//   - stalls: a viewer receiving nothing for over a second;
//   - timestamp errors: an audio or video timestamp going backwards;
//   - with --pid: the server's CPU time in the window (utime + stime from
//     /proc/PID/stat, with its children's, see VOD below) per GB
//     delivered (10^9 bytes), and its RSS before
//     the viewers came (idle), at the end, at peak, and per viewer above
//     idle;
//   - the tool's own CPU time, to tell whether it was short of CPU itself.
//
// Viewers are cheap: one goroutine each reading into one 16 KiB buffer,
// with the chunked framing and the FLV tag headers parsed in place, so
// that thousands can run beside the server. Make sure the file descriptor
// limit (ulimit -n) allows for them, on both sides.
//
// # VOD
//
// With --vod, the tool reads one stored file instead, as players and CDN
// clients do, and measures a VOD server or cache (flvedge, nginx, any):
//
//	bench --vod http://HOST:8080/vod/film.flv --readers 200 --range-size 1MiB \
//	      --duration 30s --pid $(cat nginx.pid) --verify film.flv --json out.json
//
// One request for the first range learns the file's size (from
// Content-Range) and finds a wrong URL at once. Then --readers readers are
// started over --ramp, each on a keep-alive HTTP/1.1 connection (a new one
// when the server closes it), asking for --range-size bytes at a time:
// at random offsets, or with --order sequential, range after range from
// its own starting point (the readers spread evenly over the file),
// wrapping at the end. Every answer must be 206 with the Content-Range
// asked for and as many body bytes; with --verify, every byte is compared
// with the local copy of the file (mapped, not read). Anything else is an
// error, counted by cause, and the reader goes on with a new connection.
// Measuring starts once every reader has had an answer, and lasts
// --duration.
//
// What is reported: GB delivered (body bytes) and Gbit/s, requests
// completed and per second, time to first byte and to the last byte of
// each range (p50, p99), the answers' X-Cache-Status values, errors and
// reconnections, and with --pid the server's CPU-seconds per GB and RSS,
// as for live viewers. --pid counts the process and all its descendants
// (nginx's master and workers; RSS then adds up each process's, shared
// pages counted in each), and the time of descendants that ended and were
// waited for.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flvedge/flvedge/cmd/bench/internal/load"
	"github.com/flvedge/flvedge/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg load.Config
	var jsonPath string
	fs.StringVar(&cfg.Publish, "publish", "", "publish to this rtmp:// `URL`")
	fs.IntVar(&cfg.Streams, "streams", 1, "publish to this many streams at once (the name, then name-2, name-3, ...)")
	fs.StringVar(&cfg.File, "file", "", "FLV `file` to publish (default: a generated 720p30 2 Mbit/s clip)")
	fs.StringVar(&cfg.URL, "url", "", "`URL` the viewers play: http:// (h1) or https:// (h2, h3)")
	fs.StringVar(&cfg.Proto, "proto", "h1", "the viewers' HTTP version: h1 (over TLS for https://), h2 (over TLS, multiplexed, giving flow-control window back as browsers do) or h3 (QUIC)")
	fs.BoolVar(&cfg.ConnPerViewer, "conn-per-viewer", false, "give each h2 or h3 viewer a connection of its own instead of multiplexing them")
	fs.IntVar(&cfg.ViewersPerConn, "viewers-per-conn", 0, "put at most `N` h2 or h3 viewers on one connection (the players of one page); 0: as many as one connection takes (h2: 100)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "do not verify the server's TLS certificate (self-signed test servers)")
	fs.IntVar(&cfg.Viewers, "viewers", 10, "number of viewers")
	fs.StringVar(&cfg.RefURL, "ref-url", "", "another `URL` of the stream (an ingest in front of an edge) for --ref-viewers more viewers, whose lag is reported apart as a reference")
	fs.IntVar(&cfg.RefViewers, "ref-viewers", 0, "number of viewers of --ref-url")
	fs.DurationVar(&cfg.Ramp, "ramp", time.Second, "spread the viewers' connections over this `duration`")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "measure for this `duration` once all viewers have started")
	fs.IntVar(&cfg.PID, "pid", 0, "server process `id` to sample CPU and RSS of")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this `file`")
	var vod load.VODConfig
	rangeSize, order := "1MiB", "random"
	fs.StringVar(&vod.URL, "vod", "", "read this stored file's http:// `URL` in Range requests (VOD mode)")
	fs.IntVar(&vod.Readers, "readers", 10, "VOD: concurrent readers, one keep-alive connection each")
	fs.StringVar(&rangeSize, "range-size", rangeSize, "VOD: bytes asked for in each request (`size`: 1MiB, 4M, 65536)")
	fs.StringVar(&order, "order", order, "VOD: where ranges start: random, or sequential (each reader walks the file)")
	fs.StringVar(&vod.Verify, "verify", "", "VOD: compare every byte received with this local copy of the `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if vod.URL != "" {
		for _, live := range []string{"publish", "streams", "file", "url", "proto", "insecure", "viewers"} {
			if set[live] {
				return fmt.Errorf("--%s is for live streams, not with --vod", live)
			}
		}
		size, err := config.ParseByteSize(rangeSize)
		if err != nil {
			return fmt.Errorf("--range-size: %w", err)
		}
		vod.RangeSize = int64(size)
		switch order {
		case "random":
		case "sequential":
			vod.Sequential = true
		default:
			return fmt.Errorf("--order %q: random or sequential", order)
		}
		vod.Ramp, vod.Duration, vod.PID, vod.Progress = cfg.Ramp, cfg.Duration, cfg.PID, stderr
		rep, err := load.RunVOD(ctx, vod)
		if rep == nil {
			return err
		}
		return report(rep, stdout, jsonPath, err)
	}
	for _, vodOnly := range []string{"readers", "range-size", "order", "verify"} {
		if set[vodOnly] {
			return fmt.Errorf("--%s needs --vod", vodOnly)
		}
	}
	cfg.Progress = stderr

	rep, err := load.Run(ctx, cfg)
	if rep == nil {
		return err
	}
	return report(rep, stdout, jsonPath, err)
}

// report writes a run's table, and its JSON when asked; runErr is the
// run's own error, returned with any of these.
func report(rep interface{ WriteTable(io.Writer) error }, stdout io.Writer, jsonPath string, runErr error) error {
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if jsonPath != "" {
		if err := writeJSON(jsonPath, rep); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

func writeJSON(path string, rep any) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}
