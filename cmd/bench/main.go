// Command bench load-tests an HTTP-FLV server, flvedge or any other: it can
// publish a stream over RTMP, play it with many viewers over HTTP/1.1, and
// report what they received and what the server spent on them.
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
//     /proc/PID/stat) per GB delivered (10^9 bytes), and its RSS before
//     the viewers came (idle), at the end, at peak, and per viewer above
//     idle;
//   - the tool's own CPU time, to tell whether it was short of CPU itself.
//
// Viewers are cheap: one goroutine each reading into one 16 KiB buffer,
// with the chunked framing and the FLV tag headers parsed in place, so
// that thousands can run beside the server. Make sure the file descriptor
// limit (ulimit -n) allows for them, on both sides.
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
	fs.StringVar(&cfg.Proto, "proto", "h1", "the viewers' HTTP version: h1 (over TLS for https://), h2 (over TLS, multiplexed) or h3 (QUIC)")
	fs.BoolVar(&cfg.ConnPerViewer, "conn-per-viewer", false, "give each h2 or h3 viewer a connection of its own instead of multiplexing them")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "do not verify the server's TLS certificate (self-signed test servers)")
	fs.IntVar(&cfg.Viewers, "viewers", 10, "number of viewers")
	fs.StringVar(&cfg.RefURL, "ref-url", "", "another `URL` of the stream (an ingest in front of an edge) for --ref-viewers more viewers, whose lag is reported apart as a reference")
	fs.IntVar(&cfg.RefViewers, "ref-viewers", 0, "number of viewers of --ref-url")
	fs.DurationVar(&cfg.Ramp, "ramp", time.Second, "spread the viewers' connections over this `duration`")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "measure for this `duration` once all viewers have started")
	fs.IntVar(&cfg.PID, "pid", 0, "server process `id` to sample CPU and RSS of")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Progress = stderr

	rep, err := load.Run(ctx, cfg)
	if rep != nil {
		if werr := rep.WriteTable(stdout); werr != nil {
			return werr
		}
		if jsonPath != "" {
			if jerr := writeJSON(jsonPath, rep); jerr != nil {
				return errors.Join(err, jerr)
			}
		}
	}
	return err
}

func writeJSON(path string, rep *load.Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}
