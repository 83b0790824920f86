// Package app assembles the servers: the ingest (RTMP in, HTTP-FLV out) and
// the edge (HTTP-FLV pulled from origins, HTTP-FLV out) share the same
// configuration, hub and HTTP handler; the commands only pick a role.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/rtmp"
	"github.com/flvedge/flvedge/web"
)

// Role is what a process does.
type Role string

const (
	Ingest Role = "ingest"
	Edge   Role = "edge"
)

// Main runs the command of the given role with the process's arguments and
// signals, and exits.
func Main(role Role) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, role, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		}
		os.Exit(2)
	}
}

// options is what the command line says: a config file and overrides of it.
type options struct {
	configPath string
	demo       bool
	set        func(*config.Config) // applies the flags that were given
}

func parseFlags(role Role, args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet(string(role), flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.configPath, "config", "", "YAML config `file` (keys and defaults: config/default.yaml)")
	fs.BoolVar(&o.demo, "demo", false, "publish a built-in looping demo stream at /live/demo.flv")
	rtmpListen := fs.String("rtmp-listen", "", "RTMP listen `address` (default \":1935\")")
	httpListen := fs.String("http-listen", "", "HTTP listen `address` (default \":8080\")")
	windowDuration := fs.Duration("window-duration", 0, "how far back each stream's window reaches (default 10s)")
	windowBytes := fs.String("window-bytes", "", "hard `size` bound of each stream's window (default 64MiB)")
	grace := fs.Duration("grace", 0, "how long viewers wait for a publisher that left (default 10s)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var size config.ByteSize
	if *windowBytes != "" {
		var err error
		if size, err = config.ParseByteSize(*windowBytes); err != nil {
			return o, fmt.Errorf("--window-bytes: %w", err)
		}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	o.set = func(c *config.Config) {
		if given["rtmp-listen"] {
			c.RTMPListen = *rtmpListen
		}
		if given["http-listen"] {
			c.HTTPListen = *httpListen
		}
		if given["window-duration"] {
			c.Window.Duration = *windowDuration
		}
		if given["window-bytes"] {
			c.Window.Bytes = size
		}
		if given["grace"] {
			c.Publish.Grace = *grace
		}
		if given["log-level"] {
			c.LogLevel = *logLevel
		}
	}
	return o, nil
}

// Run runs a server of the given role until ctx ends.
func Run(ctx context.Context, role Role, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(role, args, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return err
	}
	o.set(&cfg)
	if err := cfg.Check(); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	level, _ := config.ParseLogLevel(cfg.LogLevel)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := start(cfg, logger)
	if err != nil {
		return err
	}
	defer srv.close()
	if o.demo {
		go runDemo(ctx, srv.hub, logger)
		fmt.Fprintf(stdout, "Demo stream: %s/live/demo.flv\n", srv.httpURL())
		fmt.Fprintf(stdout, "Play it with: ffplay %s/live/demo.flv\n", srv.httpURL())
	}
	fmt.Fprintf(stdout, "Publish with: ffmpeg -re -i INPUT -c copy -f flv rtmp://%s/live/STREAM\n", hostPort(srv.rtmpLn.Addr()))
	fmt.Fprintf(stdout, "Play at:      %s/live/STREAM.flv\n", srv.httpURL())

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		return nil
	case err := <-srv.failed:
		return err
	}
}

// server is a running ingest: an RTMP listener feeding the hub and an HTTP
// listener serving it.
type server struct {
	hub     *relay.Hub
	rtmp    *rtmp.Server
	http    *http.Server
	rtmpLn  net.Listener
	httpLn  net.Listener
	failed  chan error
	stopped chan struct{}
}

func start(cfg config.Config, logger *slog.Logger) (*server, error) {
	rtmpLn, err := net.Listen("tcp", cfg.RTMPListen)
	if err != nil {
		return nil, fmt.Errorf("rtmp listen: %w", err)
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		rtmpLn.Close()
		return nil, fmt.Errorf("http listen: %w", err)
	}
	hub := relay.NewHub(relay.Config{
		Window: buffer.Config{
			MaxDuration: cfg.Window.Duration,
			MaxBytes:    int(cfg.Window.Bytes),
			DropSlow:    cfg.Window.SlowViewers == "drop",
		},
		Grace:            graceOrNone(cfg.Publish.Grace),
		Takeover:         cfg.Publish.Takeover,
		MaxTimestampJump: cfg.Publish.MaxTimestampJump,
		Logger:           logger,
	})
	s := &server{
		hub:     hub,
		rtmp:    &rtmp.Server{Handler: publishHandler{hub}, Logger: logger, MaxMessageSize: uint32(cfg.Publish.MaxMessageSize)},
		rtmpLn:  rtmpLn,
		httpLn:  httpLn,
		failed:  make(chan error, 2),
		stopped: make(chan struct{}),
	}
	s.http = &http.Server{
		Handler:           web.NewHandler(&web.Live{Hub: hub, Logger: logger, WriteTimeout: cfg.Viewers.WriteTimeout}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go s.serve("rtmp", func() error { return s.rtmp.Serve(rtmpLn) })
	go s.serve("http", func() error { return s.http.Serve(httpLn) })
	logger.Info("listening", "rtmp", rtmpLn.Addr().String(), "http", httpLn.Addr().String())
	return s, nil
}

// serve reports a listener that fails on its own; after close, errors are expected.
func (s *server) serve(name string, serve func() error) {
	err := serve()
	select {
	case <-s.stopped:
	default:
		s.failed <- fmt.Errorf("%s: %w", name, err)
	}
}

func (s *server) close() {
	close(s.stopped)
	s.rtmp.Close()
	s.http.Close()
	s.hub.Close()
}

func (s *server) httpURL() string { return "http://" + hostPort(s.httpLn.Addr()) }

// hostPort names a listener's address so that a local user can paste it:
// an unspecified host (":8080") becomes localhost.
func hostPort(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		_, port, _ := net.SplitHostPort(a.String())
		return "localhost:" + port
	}
	return a.String()
}

// graceOrNone maps the config's "0 means none" onto the relay's "0 means the
// default, negative none".
func graceOrNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// publishHandler lets RTMP publishers into the hub.
type publishHandler struct{ hub *relay.Hub }

func (h publishHandler) Publish(req *rtmp.PublishRequest) (rtmp.Sink, error) {
	p, err := h.hub.Publish(req.App, req.Stream, func() { req.Close() })
	if errors.Is(err, relay.ErrStreamBusy) {
		return nil, &rtmp.StatusError{Code: "NetStream.Publish.BadName", Description: "stream " + req.App + "/" + req.Stream + " is already being published"}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}
