// Command baseline is the floor for cmd/bench: the simplest fan-out server
// that does flvedge's job, so that each of flvedge's figures can be set
// beside the same figure for the floor, measured the same way on the same
// machine. It takes RTMP publishers and serves each stream as chunked
// HTTP-FLV at the same URLs as flvedge:
//
//	baseline [--rtmp-listen :1935] [--http-listen :8080] [--coalesce 0]
//	ffmpeg -re -i clip.flv -c copy -f flv rtmp://localhost:1935/live/bench
//	bench --url http://localhost:8080/live/bench.flv --viewers 100 --pid $(pidof baseline)
//
// Each tag is encoded once and the tags from the latest keyframe are kept
// for new viewers; every viewer has a goroutine that, woken by a
// broadcast, writes all that is pending in one vectored write. With
// --coalesce, a viewer waits that long after each wake-up before writing,
// merging writes as flvedge's own coalescing does, to compare like with
// like.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flvedge/flvedge/cmd/bench/internal/baseline"
	"github.com/flvedge/flvedge/rtmp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "baseline:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rtmpAddr := fs.String("rtmp-listen", ":1935", "RTMP listen `address`")
	httpAddr := fs.String("http-listen", ":8080", "HTTP listen `address`")
	var srv baseline.Server
	fs.DurationVar(&srv.Coalesce, "coalesce", 0, "wait this `long` after a wake-up before writing to a viewer")
	fs.DurationVar(&srv.WriteTimeout, "write-timeout", 15*time.Second, "drop a viewer whose write takes longer (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	rtmpLn, err := net.Listen("tcp", *rtmpAddr)
	if err != nil {
		return fmt.Errorf("rtmp listen: %w", err)
	}
	httpLn, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		rtmpLn.Close()
		return fmt.Errorf("http listen: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ingest := &rtmp.Server{Handler: &srv, Logger: logger}
	failed := make(chan error, 2)
	go func() { failed <- ingest.Serve(rtmpLn) }()
	go func() { failed <- srv.Serve(httpLn) }()
	fmt.Fprintf(stdout, "baseline: publish to rtmp://%s/APP/STREAM, play http://%s/APP/STREAM.flv (coalesce %s)\n",
		rtmpLn.Addr(), httpLn.Addr(), srv.Coalesce)

	select {
	case <-ctx.Done():
		err = nil
	case err = <-failed:
	}
	ingest.Close()
	srv.Close()
	return err
}
