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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/rtmp"
	"github.com/flvedge/flvedge/web"
	"github.com/flvedge/flvedge/web/player"
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
	configPath   string
	demo         bool
	checkOnly    bool                         // --check-config: load, check, report, exit
	printDefault bool                         // --print-default-config
	httpsGiven   bool                         // --https-listen was given, maybe empty
	edits        []func(*config.Config) error // the flags that were given, in order
}

// apply puts the flags over the file's settings.
func (o options) apply(c *config.Config) error {
	for _, edit := range o.edits {
		if err := edit(c); err != nil {
			return err
		}
	}
	return nil
}

func parseFlags(role Role, args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet(string(role), flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	// override defines a flag that, when given, replaces a config setting.
	override := func(name, usage string, set func(c *config.Config, value string) error) {
		fs.Func(name, usage, func(v string) error {
			o.edits = append(o.edits, func(c *config.Config) error {
				if err := set(c, v); err != nil {
					return fmt.Errorf("--%s: %w", name, err)
				}
				return nil
			})
			return nil
		})
	}
	fs.StringVar(&o.configPath, "config", "", "YAML config `file` (every key and its default: --print-default-config)")
	fs.BoolVar(&o.checkOnly, "check-config", false, "check the config file and the flags, say what is wrong (file:line), and exit")
	fs.BoolVar(&o.printDefault, "print-default-config", false, "print the documented default config and exit")
	override("http-listen", "HTTP listen `address` (default \":8080\")", func(c *config.Config, v string) error {
		c.HTTPListen = v
		return nil
	})
	if role == Ingest {
		fs.BoolVar(&o.demo, "demo", false, "publish a built-in looping demo stream at /live/demo.flv")
		override("rtmp-listen", "RTMP listen `address` (default \":1935\")", func(c *config.Config, v string) error {
			c.RTMPListen = v
			return nil
		})
	}
	if role == Edge {
		first := true
		override("origin", "origin base `URL` to pull streams from, e.g. http://10.0.0.5:8080; repeat in order of preference (replaces upstream.origins)", func(c *config.Config, v string) error {
			if first {
				c.Upstream.Origins, first = nil, false
			}
			c.Upstream.Origins = append(c.Upstream.Origins, v)
			return nil
		})
	}
	override("https-listen", "HTTPS listen `address` (HTTP/1.1, HTTP/2; HTTP/3 on the same UDP port); empty for none", func(c *config.Config, v string) error {
		c.HTTPSListen = v
		o.httpsGiven = true
		return nil
	})
	override("tls-cert", "TLS certificate `file` (PEM) for --https-listen", func(c *config.Config, v string) error {
		c.TLS.Cert = v
		return nil
	})
	override("tls-key", "TLS key `file` (PEM) for --https-listen", func(c *config.Config, v string) error {
		c.TLS.Key = v
		return nil
	})
	override("admin-listen", "metrics and stats API listen `address`; empty for none (default \"127.0.0.1:9090\")", func(c *config.Config, v string) error {
		c.Admin.Listen = v
		return nil
	})
	override("window-duration", "how far back each stream's window reaches (default 10s)", func(c *config.Config, v string) (err error) {
		c.Window.Duration, err = time.ParseDuration(v)
		return err
	})
	override("window-bytes", "hard `size` bound of each stream's window (default 64MiB)", func(c *config.Config, v string) (err error) {
		c.Window.Bytes, err = config.ParseByteSize(v)
		return err
	})
	override("grace", "how long viewers wait for a publisher or origin that left (default 10s)", func(c *config.Config, v string) (err error) {
		c.Publish.Grace, err = time.ParseDuration(v)
		return err
	})
	firstSecret := true
	override("secure-token-secret", "require MD5 tokens signed with `secret` on every play path without a token rule of its own; repeat to accept several, the first signs (replaces access.secure_token_secrets)", func(c *config.Config, v string) error {
		if firstSecret {
			c.Access.SecureTokenSecrets, firstSecret = nil, false
		}
		c.Access.SecureTokenSecrets = append(c.Access.SecureTokenSecrets, v)
		return nil
	})
	addVODFlags(override)
	override("log-level", "debug, info, warn or error (default info)", func(c *config.Config, v string) error {
		c.LogLevel = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// Run runs a server of the given role until ctx ends.
func Run(ctx context.Context, role Role, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(role, args, stderr)
	if err != nil {
		return err
	}
	if o.printDefault {
		_, err := stdout.Write(config.Default)
		return err
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return err
	}
	if err := o.apply(&cfg); err != nil {
		return err
	}
	if o.demo && cfg.HTTPSListen == "" && !o.httpsGiven {
		// The demo shows all three protocols, on a self-signed certificate.
		cfg.HTTPSListen = ":8443"
	}
	if err := cfg.Check(); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	if role == Edge && !cfg.Upstream.Pulling() {
		return errors.New("an edge needs origins: --origin URL, or upstream.origins in the config file")
	}
	if cfg.HTTPSListen != "" && cfg.TLS.Cert == "" && !o.demo {
		return errors.New("https_listen needs tls.cert and tls.key (--tls-cert, --tls-key); --demo makes a self-signed one")
	}
	if o.checkOnly {
		fmt.Fprintln(stdout, "config OK")
		return nil
	}
	level, _ := config.ParseLogLevel(cfg.LogLevel)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	srv, err := start(role, cfg, logger)
	if err != nil {
		return err
	}
	defer srv.close()
	if o.demo {
		// The demo plays on while the server drains, like any publisher.
		demoCtx, stopDemo := context.WithCancel(context.Background())
		defer stopDemo()
		go runDemo(demoCtx, srv.hub, logger)
		fmt.Fprintf(stdout, "Demo stream: %s/live/demo.flv\n", srv.httpURL())
		fmt.Fprintf(stdout, "Play it with: ffplay %s/live/demo.flv\n", srv.httpURL())
		if cfg.Player.Enabled {
			fmt.Fprintf(stdout, "or in a browser: %s/player?url=/live/demo.flv\n", srv.httpURL())
		}
	}
	if srv.rtmpLn != nil {
		fmt.Fprintf(stdout, "Publish with: ffmpeg -re -i INPUT -c copy -f flv rtmp://%s/live/STREAM\n", hostPort(srv.rtmpLn.Addr()))
	}
	fmt.Fprintf(stdout, "Play at:      %s/live/STREAM.flv\n", srv.httpURL())
	if srv.httpsLn != nil {
		fmt.Fprintf(stdout, "Play securely: https://%s/live/STREAM.flv (HTTP/1.1, HTTP/2%s)\n", hostPort(srv.httpsLn.Addr()), map[bool]string{true: ", HTTP/3"}[srv.http3 != nil])
	}
	if srv.adminLn != nil {
		fmt.Fprintf(stdout, "Admin:        http://%s/metrics, /api/streams, /readyz\n", hostPort(srv.adminLn.Addr()))
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			srv.drain(cfg.Viewers.Drain, logger)
			return nil
		case err := <-srv.failed:
			return err
		case <-hup:
			srv.reload(o, logger)
		}
	}
}

// reload re-reads the config file and puts it in force for new requests;
// connected viewers and publishers go on. A file that does not load or
// check is refused and the running config stays.
func (s *server) reload(o options, logger *slog.Logger) {
	cfg, err := config.Load(o.configPath)
	if err == nil {
		err = o.apply(&cfg)
	}
	if err == nil {
		err = cfg.Check()
	}
	if err == nil {
		err = s.apply(cfg, logger)
	}
	if err != nil {
		logger.Error("reload refused, the running config stays", "err", err)
		return
	}
	logger.Info("config reloaded", "file", o.configPath)
}

// server is a running ingest or edge: an HTTP listener serving the hub,
// which an RTMP listener (ingest) and pulls from origins feed.
type server struct {
	hub      *relay.Hub
	puller   *relay.Puller // nil without origins or static pulls
	rtmp     *rtmp.Server  // nil on an edge
	http     *http.Server
	rtmpLn   net.Listener
	httpLn   net.Listener
	https    *http.Server // nil without https_listen
	httpsLn  net.Listener
	http3    *http3.Server // nil without tls.http3
	quicConn net.PacketConn
	cert     certificate
	metrics  *prometheus.Registry
	admin    *http.Server
	adminLn  net.Listener
	failed   chan error
	stopped  chan struct{}
	draining atomic.Bool
	fdLimit  uint64
	// perConn caps the live viewers of one HTTP/2 or HTTP/3 connection; the
	// servers' stream limits are made from it at start, so a reload keeps it.
	perConn   int
	closeOnce sync.Once

	// What a reload changes: the settings read per request, the access
	// rules, and the handler tree built on them.
	cfg      atomic.Pointer[config.Config]
	guard    atomic.Pointer[auth.Guard]
	handler  atomic.Pointer[http.Handler]
	live     *web.Live
	requests *web.Metrics
	refusals *refusalCollector
}

func (s *server) currentGuard() *auth.Guard { return s.guard.Load() }

// apply puts cfg in force for the requests that come from now on: the
// viewers' limits, the origins, the access rules, the VOD roots and the
// pages. Listeners, windows and timeouts of running pulls stay as they
// started; they need a restart.
func (s *server) apply(cfg config.Config, logger *slog.Logger) error {
	mounts, err := vodMounts(cfg, logger)
	if err != nil {
		return err
	}
	guard, err := newGuard(cfg.Access, logger)
	if err != nil {
		return err
	}
	if s.https != nil {
		if err := s.cert.load(cfg.TLS); err != nil {
			guard.Close()
			return err
		}
	}
	var h http.Handler = s.requests.CountRequests(web.WithPages(web.NewGuardedHandler(s.live, guard, mounts...), web.Pages{
		Player: cfg.Player.Enabled, MpegtsURL: cfg.Player.MpegtsURL,
		StreamList: cfg.Player.StreamList, Hub: s.hub,
	}))
	s.cfg.Store(&cfg)
	s.live.SetLimits(s.viewerLimits(cfg))
	s.handler.Store(&h)
	if old := s.guard.Swap(guard); old != nil {
		s.refusals.retire(old)
		// Requests that began a moment ago may still be checked by the
		// old rules: close them a little later.
		time.AfterFunc(10*time.Second, func() { old.Close() })
	}
	return nil
}

func start(role Role, cfg config.Config, logger *slog.Logger) (*server, error) {
	s := &server{failed: make(chan error, 5), stopped: make(chan struct{})}
	s.cfg.Store(&cfg)
	var err error
	if s.httpLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	if role == Ingest {
		if s.rtmpLn, err = net.Listen("tcp", cfg.RTMPListen); err != nil {
			s.httpLn.Close()
			return nil, fmt.Errorf("rtmp listen: %w", err)
		}
	}
	s.hub = relay.NewHub(relay.Config{
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
	if cfg.Upstream.Pulling() || len(cfg.Pulls) > 0 {
		if s.puller, err = s.newPuller(cfg.Upstream); err != nil {
			s.httpLn.Close()
			if s.rtmpLn != nil {
				s.rtmpLn.Close()
			}
			return nil, err
		}
		for _, p := range cfg.Pulls {
			app, name := p.Split()
			s.puller.Keep(app, name, p.URL)
		}
	}
	s.fdLimit = raiseFileLimit(logger)
	s.perConn = cfg.Viewers.MaxPerConnection
	s.live = &web.Live{Hub: s.hub, Logger: logger, AccessLog: cfg.Admin.AccessLog}
	if cfg.Upstream.Pulling() {
		s.live.Pull = s.puller
	}
	s.metrics = prometheus.NewRegistry()
	s.refusals = newRefusalCollector(s.currentGuard)
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), s.refusals)
	s.requests = web.NewMetrics(s.metrics, s.hub, cfg.Admin.MetricsMaxStreams)
	if cfg.Player.Enabled && !player.Embedded() {
		logger.Info("player page: built without mpegts.js (npm ci in web/player before go build embeds it); the page loads it from player.mpegts_url", "url", cfg.Player.MpegtsURL)
	}
	if err := s.apply(cfg, logger); err != nil {
		s.httpLn.Close()
		if s.rtmpLn != nil {
			s.rtmpLn.Close()
		}
		s.hub.Close()
		if s.puller != nil {
			s.puller.Close()
		}
		return nil, err
	}
	s.http = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		HTTP2:             s.http2Config(),
		ConnContext:       connViewers,
	}
	if cfg.TLS.H2C {
		s.http.Protocols = new(http.Protocols)
		s.http.Protocols.SetHTTP1(true)
		s.http.Protocols.SetUnencryptedHTTP2(true)
	}
	go s.serve("http", func() error { return s.http.Serve(s.httpLn) })
	if cfg.HTTPSListen != "" {
		if err := s.startHTTPS(cfg, logger); err != nil {
			s.close()
			return nil, err
		}
	}
	if cfg.Admin.Listen != "" {
		if err := s.startAdmin(cfg.Admin, logger); err != nil {
			s.close()
			return nil, err
		}
	}
	if s.rtmpLn != nil {
		s.rtmp = &rtmp.Server{Handler: newPublishHandler(s.hub, s.metrics), Logger: logger, MaxMessageSize: uint32(cfg.Publish.MaxMessageSize)}
		s.rtmp.Handler = guardedPublish{guard: s.currentGuard, next: s.rtmp.Handler}
		go s.serve("rtmp", func() error { return s.rtmp.Serve(s.rtmpLn) })
		logger.Info("listening", "role", role, "rtmp", s.rtmpLn.Addr().String(), "http", s.httpLn.Addr().String())
	} else {
		logger.Info("listening", "role", role, "http", s.httpLn.Addr().String(), "origins", cfg.Upstream.Origins)
	}
	return s, nil
}

// startAdmin serves metrics and the stats API on their own listener, so that
// they can stay on a private address.
func (s *server) startAdmin(cfg config.Admin, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	s.adminLn = ln
	s.admin = &http.Server{
		Handler:           web.NewAdminHandler(s.hub, s.metrics, cfg.Token, func() bool { return !s.draining.Load() }),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go s.serve("admin", func() error { return s.admin.Serve(ln) })
	logger.Info("admin listening", "addr", ln.Addr().String())
	return nil
}

// newPuller pulls with the upstream settings of the current config: origins
// and headers as a reload leaves them, the rest as at start.
func (s *server) newPuller(u config.Upstream) (*relay.Puller, error) {
	client, err := upstreamClient(u)
	if err != nil {
		return nil, err
	}
	return relay.NewPuller(s.hub, relay.PullConfig{
		Client:  client,
		Origins: func(app string) []string { return s.cfg.Load().Upstream.OriginsFor(app) },
		Header: func() http.Header {
			header := make(http.Header)
			for k, v := range s.cfg.Load().Upstream.Headers {
				header.Set(k, v)
			}
			return header
		},
		NodeID:         u.NodeID,
		MaxHops:        u.MaxHops,
		ConnectTimeout: u.ConnectTimeout,
		StallTimeout:   u.StallTimeout,
		ViewerWait:     u.ViewerWait,
		IdleTimeout:    u.IdleTimeout,
		RetryFor:       u.RetryFor,
	}), nil
}

// drain lets the server go without cutting viewers off: it stops taking new
// ones (readiness fails, listeners close), asks publishers to reconnect
// elsewhere, and waits for the viewers to leave, at most timeout. What
// remains is ended cleanly by close.
func (s *server) drain(timeout time.Duration, logger *slog.Logger) {
	s.draining.Store(true)
	logger.Info("draining", "viewers", s.viewers(), "for", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if s.rtmp != nil {
		s.rtmpLn.Close()
		s.rtmp.RequestReconnect("", "The server is shutting down; please reconnect.")
	}
	// Shutdown closes the listener and waits for the requests it tracks
	// (VOD); live viewers have taken their connections over and are waited
	// for below.
	shutdown := make(chan struct{})
	go func() {
		defer close(shutdown)
		if s.https != nil {
			go s.https.Shutdown(ctx)
		}
		if s.http3 != nil {
			go s.http3.Shutdown(ctx)
		}
		s.http.Shutdown(ctx)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for s.viewers() > 0 {
		select {
		case <-ctx.Done():
			logger.Info("drain time over, ending the remaining viewers", "viewers", s.viewers())
			<-shutdown
			return
		case <-tick.C:
		}
	}
	<-shutdown
	logger.Info("drained")
}

func (s *server) viewerLimits(cfg config.Config) web.Limits {
	return web.Limits{
		WriteTimeout:      cfg.Viewers.WriteTimeout,
		Coalesce:          cfg.Viewers.Coalesce,
		CoalesceMode:      coalesceMode(cfg.Viewers.CoalesceMode),
		CoalesceWrites:    cfg.Viewers.CoalesceWrites,
		MaxViewers:        maxViewers(cfg.Viewers.Max, s.fdLimit),
		MaxViewersPerConn: s.perConn,
	}
}

// http2Config lets an HTTP/2 connection open more streams than it may have
// live viewers, so that the excess viewers are refused rather than left
// waiting for a stream (see web/streams.go).
func (s *server) http2Config() *http.HTTP2Config {
	return &http.HTTP2Config{MaxConcurrentStreams: s.perConn + web.StreamHeadroom}
}

// connViewers counts each connection's live viewers.
func connViewers(ctx context.Context, _ net.Conn) context.Context { return web.WithConnViewers(ctx) }

// coalesceMode maps the checked config value.
func coalesceMode(s string) web.CoalesceMode {
	if s == "fixed" {
		return web.CoalesceFixed
	}
	return web.CoalesceAdaptive
}

// viewers counts the viewers of every stream.
func (s *server) viewers() int {
	n := 0
	for _, st := range s.hub.Streams() {
		n += st.Viewers()
	}
	return n
}

// serve reports a listener that fails on its own; after close or while
// draining, errors are expected.
func (s *server) serve(name string, serve func() error) {
	err := serve()
	if s.draining.Load() {
		return
	}
	select {
	case <-s.stopped:
	default:
		s.failed <- fmt.Errorf("%s: %w", name, err)
	}
}

func (s *server) close() {
	s.closeOnce.Do(func() {
		close(s.stopped)
		if s.rtmp != nil {
			s.rtmp.Close()
		}
		s.http.Close()
		if s.https != nil {
			s.https.Close()
		}
		if s.http3 != nil {
			s.http3.Close()
			s.quicConn.Close()
		}
		if s.admin != nil {
			s.admin.Close()
		}
		if s.puller != nil {
			s.puller.Close()
		}
		s.hub.Close()
		s.currentGuard().Close()
	})
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

// publishHandler lets RTMP publishers into the hub, and counts them.
type publishHandler struct {
	hub       *relay.Hub
	publishes *prometheus.CounterVec
}

func newPublishHandler(hub *relay.Hub, reg prometheus.Registerer) publishHandler {
	h := publishHandler{hub: hub, publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flvedge_rtmp_publishes_total",
		Help: "RTMP publish requests, by result (accepted, refused) and the reason of a refusal.",
	}, []string{"result", "reason"})}
	reg.MustRegister(h.publishes)
	return h
}

func (h publishHandler) Publish(req *rtmp.PublishRequest) (rtmp.Sink, error) {
	p, err := h.hub.Publish(req.App, req.Stream, func() { req.Close() })
	switch {
	case errors.Is(err, relay.ErrBadName):
		h.publishes.WithLabelValues("refused", "bad_name").Inc()
		return nil, &rtmp.StatusError{Code: "NetStream.Publish.BadName", Description: err.Error()}
	case errors.Is(err, relay.ErrStreamBusy):
		h.publishes.WithLabelValues("refused", "busy").Inc()
		return nil, &rtmp.StatusError{Code: "NetStream.Publish.BadName", Description: "stream " + req.App + "/" + req.Stream + " is already being published"}
	case err != nil:
		h.publishes.WithLabelValues("refused", "closing").Inc()
		return nil, err
	}
	h.publishes.WithLabelValues("accepted", "").Inc()
	return p, nil
}
