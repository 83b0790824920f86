// Package app wires the servers: the ingest (RTMP in, HTTP-FLV out) and the
// edge (HTTP-FLV pulled from origins, HTTP-FLV out) share the same
// configuration, hub and HTTP handler; the commands only pick a role and
// their subcommands. It holds the flags and how the config reaches the
// packages, the lifecycle (start, SIGHUP reload, SIGTERM drain), the
// refusal metrics and the demo publisher; web owns the listeners.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/relay"
	"github.com/flvedge/flvedge/rtmp"
	"github.com/flvedge/flvedge/vodcache"
	"github.com/flvedge/flvedge/web"
	"github.com/flvedge/flvedge/web/player"
)

// Role is what a process does.
type Role string

const (
	Ingest Role = "ingest"
	Edge   Role = "edge"
)

// Command is a subcommand of a server's binary, such as `edge sign`: the
// binary lists it in its usage and runs it when its first argument is Name.
type Command struct {
	Name  string
	Usage string // its arguments and what it does, in one line
	Run   func(args []string, stdout, stderr io.Writer) error
}

// SignCommand is `sign`: see Sign.
var SignCommand = Command{Name: "sign", Usage: "[flags] PATH   print a signed play URL or publish key (sign -h for its flags)", Run: Sign}

// Main runs, with the process's arguments and signals, the subcommand that
// the first argument names, or else the server of the given role; and exits.
func Main(role Role, commands ...Command) {
	name, err := string(role), error(nil)
	if c := commandOf(commands, os.Args[1:]); c != nil {
		name, err = c.Name, c.Run(os.Args[2:], os.Stdout, os.Stderr)
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = Run(ctx, role, os.Args[1:], os.Stdout, os.Stderr, commands...)
		stop()
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
		os.Exit(2)
	}
}

// commandOf is the command that args name first, if any.
func commandOf(commands []Command, args []string) *Command {
	for i := range commands {
		if len(args) > 0 && args[0] == commands[i].Name {
			return &commands[i]
		}
	}
	return nil
}

// options is what the command line says: a config file and overrides of it.
type options struct {
	configPath   string
	demo         bool
	checkOnly    bool              // --check-config: load, check, report, exit
	printDefault bool              // --print-default-config
	httpsGiven   bool              // --https-listen was given, maybe empty
	edits        []config.Override // the flags that were given, in order
}

// load reads the config file with the flags over it, and checks the
// result. It runs at start and again at every reload, with the same
// result: each flag sets its key whole, so what it replaced does not come
// back.
func (o options) load() (config.Config, error) {
	return config.Load(o.configPath, o.edits...)
}

// overrideList defines a flag that may be repeated and whose values, in
// order, replace a config list, its key.
type overrideList func(name, key, usage string, set func(c *config.Config, values []string) error)

func parseFlags(role Role, args []string, stderr io.Writer, commands ...Command) (options, error) {
	var o options
	fs := flagSet(role, &o, stderr, commands...)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// Known at parse time, not when the edits run: they run later, on a
	// copy of o.
	fs.Visit(func(f *flag.Flag) { o.httpsGiven = o.httpsGiven || f.Name == "https-listen" })
	return o, nil
}

// flagSet defines the flags of role, which parsing writes into o; its
// usage lists the binary's subcommands too.
func flagSet(role Role, o *options, stderr io.Writer, commands ...Command) *flag.FlagSet {
	fs := flag.NewFlagSet(string(role), flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags]\n", role)
		for _, c := range commands {
			fmt.Fprintf(stderr, "       %s %s %s\n", role, c.Name, c.Usage)
		}
		fmt.Fprintln(stderr, "flags:")
		fs.PrintDefaults()
	}
	edit := func(name, key string, set func(c *config.Config) error) {
		o.edits = append(o.edits, config.Override{Flag: name, Key: key, Set: set})
	}
	// override defines a flag that, when given, replaces a config setting,
	// its key.
	override := func(name, key, usage string, set func(c *config.Config, value string) error) {
		fs.Func(name, usage, func(v string) error {
			edit(name, key, func(c *config.Config) error { return set(c, v) })
			return nil
		})
	}
	// A list flag's values are gathered while parsing; its one edit sets
	// them all, so that the edit does the same over every file it is
	// applied to (start and each reload), where appending would mix the
	// file's list back in.
	var list overrideList = func(name, key, usage string, set func(c *config.Config, values []string) error) {
		var values []string
		fs.Func(name, usage, func(v string) error {
			if values == nil {
				edit(name, key, func(c *config.Config) error { return set(c, values) })
			}
			values = append(values, v)
			return nil
		})
	}
	fs.StringVar(&o.configPath, "config", "", "YAML config `file` (every key and its default: --print-default-config)")
	fs.BoolVar(&o.checkOnly, "check-config", false, "check the config file and the flags, say what is wrong (file:line), and exit")
	fs.BoolVar(&o.printDefault, "print-default-config", false, "print the documented default config and exit")
	override("http-listen", "http_listen", "HTTP listen `address` (default \":8080\")", func(c *config.Config, v string) error {
		c.HTTPListen = v
		return nil
	})
	if role == Ingest {
		fs.BoolVar(&o.demo, "demo", false, "publish a built-in looping demo stream at /live/demo.flv")
		override("rtmp-listen", "rtmp_listen", "RTMP listen `address` (default \":1935\")", func(c *config.Config, v string) error {
			c.RTMPListen = v
			return nil
		})
	}
	if role == Edge {
		list("origin", "upstream.origins", "origin base `URL` to pull streams from, e.g. http://10.0.0.5:8080; repeat in order of preference (replaces upstream.origins)", func(c *config.Config, v []string) error {
			c.Upstream.Origins = slices.Clone(v)
			return nil
		})
	}
	override("https-listen", "https_listen", "HTTPS listen `address` (HTTP/1.1, HTTP/2; HTTP/3 on the same UDP port); empty for none", func(c *config.Config, v string) error {
		c.HTTPSListen = v
		return nil
	})
	override("tls-cert", "tls.cert", "TLS certificate `file` (PEM) for --https-listen", func(c *config.Config, v string) error {
		c.TLS.Cert = v
		return nil
	})
	override("tls-key", "tls.key", "TLS key `file` (PEM) for --https-listen", func(c *config.Config, v string) error {
		c.TLS.Key = v
		return nil
	})
	override("admin-listen", "admin.listen", "metrics and stats API listen `address`; empty for none (default \"127.0.0.1:9090\")", func(c *config.Config, v string) error {
		c.Admin.Listen = v
		return nil
	})
	override("window-duration", "window.duration", "how far back each stream's window reaches (default 10s)", func(c *config.Config, v string) (err error) {
		c.Window.Duration, err = time.ParseDuration(v)
		return err
	})
	override("window-bytes", "window.bytes", "hard `size` bound of each stream's window (default 64MiB)", func(c *config.Config, v string) (err error) {
		c.Window.Bytes, err = config.ParseByteSize(v)
		return err
	})
	override("grace", "publish.grace", "how long viewers wait for a publisher or origin that left (default 10s)", func(c *config.Config, v string) (err error) {
		c.Publish.Grace, err = time.ParseDuration(v)
		return err
	})
	list("secure-token-secret", "access.secure_token_secrets", "require MD5 tokens signed with `secret` on every play path without a token rule of its own; repeat to accept several, the first signs (replaces access.secure_token_secrets)", func(c *config.Config, v []string) error {
		c.Access.SecureTokenSecrets = slices.Clone(v)
		return nil
	})
	addVODFlags(override, list)
	override("log-level", "log_level", "debug, info, warn or error (default info)", func(c *config.Config, v string) error {
		c.LogLevel = v
		return nil
	})
	return fs
}

// Run runs a server of the given role until ctx ends. commands are the
// binary's subcommands, which its usage lists.
func Run(ctx context.Context, role Role, args []string, stdout, stderr io.Writer, commands ...Command) error {
	o, err := parseFlags(role, args, stderr, commands...)
	if err != nil {
		return err
	}
	if o.printDefault {
		_, err := stdout.Write(config.Default)
		return err
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	if o.demo && cfg.HTTPSListen == "" && !o.httpsGiven {
		// The demo shows all three protocols, on a self-signed certificate.
		cfg.HTTPSListen = ":8443"
	}
	if role == Edge && !cfg.Upstream.Pulling() && len(cfg.VOD.Origins) == 0 && len(cfg.VOD.Roots) == 0 {
		return errors.New("an edge needs origins: --origin URL (live) or --vod-origin PREFIX=URL (VOD), or upstream.origins / vod.origins in the config file")
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
	if addr := srv.web.HTTPSAddr(); addr != nil {
		fmt.Fprintf(stdout, "Play securely: https://%s/live/STREAM.flv (HTTP/1.1, HTTP/2%s)\n", hostPort(addr), map[bool]string{true: ", HTTP/3"}[cfg.TLS.HTTP3])
	}
	if addr := srv.web.AdminAddr(); addr != nil {
		fmt.Fprintf(stdout, "Admin:        http://%s/metrics, /api/streams, /readyz\n", hostPort(addr))
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
		case err := <-srv.web.Err():
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
	cfg, err := o.load()
	if err == nil {
		err = s.apply(cfg, logger)
	}
	if err != nil {
		logger.Error("reload refused, the running config stays", "err", err)
		return
	}
	logger.Info("config reloaded", "file", o.configPath)
}

// server is a running ingest or edge: web's listeners serving the hub,
// which an RTMP listener (ingest) and pulls from origins feed.
type server struct {
	hub      *relay.Hub
	puller   *relay.Puller // nil without origins or static pulls
	rtmp     *rtmp.Server  // nil on an edge
	rtmpLn   net.Listener
	web      *web.Server
	metrics  *prometheus.Registry
	failed   chan error  // the RTMP listener's
	stopping atomic.Bool // drain or close began: the RTMP listener's error is expected
	fdLimit  uint64
	// perConn caps the live viewers of one HTTP/2 or HTTP/3 connection; the
	// servers' stream limits are made from it at start, so a reload keeps it.
	perConn   int
	closeOnce sync.Once

	// What a reload changes: the settings read per request, the access
	// rules in the guard, the VOD routes, and the handler tree built on
	// them, which web serves. The guard itself, with the live counts of
	// its limits, stays.
	cfg        atomic.Pointer[config.Config]
	guard      *auth.Guard
	vod        vodServing // changed by reloads only, on Run's goroutine
	refusalLog auth.Warner
	live       *web.Live
	requests   *web.Metrics
	vodCache   *vodcache.Cache // nil without VOD origins
}

// apply puts cfg in force for the requests that come from now on: the
// viewers' limits, the origins, the access rules, the VOD roots and the
// pages. Listeners, windows and timeouts of running pulls stay as they
// started; they need a restart.
func (s *server) apply(cfg config.Config, logger *slog.Logger) error {
	vod, err := s.vod.next(cfg, s.vodCache, logger)
	if err != nil {
		return err
	}
	policy, err := newPolicy(cfg.Access, s.refusalLog)
	if err != nil {
		return err
	}
	var cert *tls.Certificate
	if s.web.Secure() {
		if cert, err = web.ReadCertificate(cfg.TLS.Cert, cfg.TLS.Key); err != nil {
			return err
		}
	}
	// Last of the checks, first of the changes: the cache's origins.
	if s.vodCache != nil {
		if err := s.vodCache.SetOrigins(cfg.VOD.CacheConfig().Origins); err != nil {
			return fmt.Errorf("vod.origins: %w", err)
		}
	}
	// The rules change; the counts of open requests and the rate buckets
	// stay with the guard, so a reload resets no limit.
	if s.guard == nil {
		s.guard = auth.NewGuard(policy)
	} else {
		s.guard.SetPolicy(policy)
	}
	cors := web.CORS{CredentialOrigins: cfg.CORS.CredentialOrigins}
	var h http.Handler = s.requests.CountRequests(web.WithPages(web.NewGuardedHandler(s.live, s.guard, cors, vod.mounts...), web.Pages{
		Player: cfg.Player.Enabled, MpegtsURL: cfg.Player.MpegtsURL,
		StreamList: cfg.Player.StreamList, Hub: s.hub, Guard: s.guard, CORS: cors,
	}))
	s.cfg.Store(&cfg)
	s.vod = vod
	s.live.SetLimits(s.viewerLimits(cfg))
	s.web.Reload(h, cert)
	return nil
}

func start(role Role, cfg config.Config, logger *slog.Logger) (*server, error) {
	s := &server{failed: make(chan error, 1)}
	s.cfg.Store(&cfg)
	s.hub = relay.NewHub(relay.Config{
		Window: buffer.Config{
			MaxDuration: cfg.Window.Duration,
			MaxBytes:    int(cfg.Window.Bytes),
			DropSlow:    cfg.Window.SlowViewers == "drop",
		},
		Grace:            graceOrNone(cfg.Publish.Grace),
		Takeover:         cfg.Publish.Takeover,
		MaxTimestampJump: cfg.Publish.MaxTimestampJump,
		MaxStreams:       cfg.Limits.Streams,
		MaxPublishers:    cfg.Limits.Publishers,
		MaxWindow:        windowBytes(int64(cfg.Limits.WindowBytes), logger),
		Logger:           logger,
	})
	// abort undoes what is started so far.
	abort := func(err error) (*server, error) {
		s.close()
		return nil, err
	}
	var err error
	if cfg.Upstream.Pulling() || len(cfg.Pulls) > 0 {
		if s.puller, err = s.newPuller(cfg.Upstream); err != nil {
			return abort(err)
		}
		for _, p := range cfg.Pulls {
			app, name := p.Split()
			if err := s.puller.Keep(app, name, p.URL); err != nil {
				return abort(err)
			}
		}
	}
	s.fdLimit = raiseFileLimit(logger)
	s.perConn = cfg.Viewers.MaxPerConnection
	s.live = &web.Live{Hub: s.hub, Logger: logger, AccessLog: cfg.Admin.AccessLog}
	if cfg.Upstream.Pulling() {
		s.live.Pull = s.puller
	}
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.refusalLog = newRefusalLog(logger)
	s.requests = web.NewMetrics(s.metrics, s.hub, cfg.Admin.MetricsMaxStreams)
	s.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flvedge_window_bytes",
		Help: "Bytes in every stream's window together (bounded by limits.window_bytes).",
	}, func() float64 { return float64(s.hub.WindowBytes()) }))
	if cfg.Upstream.Pulling() {
		s.metrics.MustRegister(newOriginCollector(s.puller, func() config.Upstream { return s.cfg.Load().Upstream }))
	}
	if cfg.Player.Enabled && !player.Embedded() {
		logger.Info("player page: built without mpegts.js (npm ci in web/player before go build embeds it); the page loads it from player.mpegts_url", "url", cfg.Player.MpegtsURL)
	}
	if s.vodCache, err = newVODCache(cfg, logger); err != nil {
		return abort(err)
	}
	if s.vodCache != nil {
		s.metrics.MustRegister(web.NewCacheMetrics(s.vodCache))
	}
	s.web = web.NewServer(web.ServerConfig{
		HTTPListen: cfg.HTTPListen, H2C: cfg.TLS.H2C,
		HTTPSListen: cfg.HTTPSListen, HTTP3: cfg.TLS.HTTP3, CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key,
		AdminListen: cfg.Admin.Listen, Admin: s.adminHandler(cfg),
		ReadHeaderTimeout: cfg.HTTPTimeouts.ReadHeader, IdleTimeout: cfg.HTTPTimeouts.Idle,
		MaxViewersPerConn: s.perConn,
		Live:              s.live,
		Logger:            logger,
	})
	if err := s.apply(cfg, logger); err != nil {
		return abort(err)
	}
	s.metrics.MustRegister(newRefusalCollector(s.guard))
	if err := s.web.Start(); err != nil {
		return abort(err)
	}
	if role == Ingest {
		if s.rtmpLn, err = net.Listen("tcp", cfg.RTMPListen); err != nil {
			return abort(fmt.Errorf("rtmp listen: %w", err))
		}
		refused := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flvedge_rtmp_connections_refused_total",
			Help: "RTMP connections closed at accept, by the limit they would have passed (connections, connections_per_client).",
		}, []string{"limit"})
		s.metrics.MustRegister(refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flvedge_rtmp_connections",
			Help: "RTMP connections open now (bounded by limits.rtmp_connections).",
		}, func() float64 { return float64(s.rtmp.Connections()) }))
		s.rtmp = &rtmp.Server{
			Handler:        guardedPublish{guard: s.guard, next: newPublishHandler(s.hub, s.metrics)},
			Logger:         logger,
			MaxMessageSize: uint32(cfg.Publish.MaxMessageSize), MaxCommandSize: uint32(cfg.Publish.MaxCommandSize),
			MaxConns: cfg.Limits.RTMPConnections, MaxConnsPerClient: cfg.Limits.RTMPConnectionsPerClient,
			Refused: func(limit string) { refused.WithLabelValues(limit).Inc() },
		}
		go s.serveRTMP()
		logger.Info("listening", "role", role, "rtmp", s.rtmpLn.Addr().String(), "http", s.web.HTTPAddr().String())
	} else {
		logger.Info("listening", "role", role, "http", s.web.HTTPAddr().String(), "origins", cfg.Upstream.Origins, "vod", vodPrefixes(cfg))
	}
	return s, nil
}

// adminHandler serves metrics, the stats API, readiness and the cache API
// on the admin listener; nil without one.
func (s *server) adminHandler(cfg config.Config) http.Handler {
	if cfg.Admin.Listen == "" {
		return nil
	}
	access := web.AdminAccess{Token: cfg.Admin.Token, Hosts: cfg.Admin.Hosts}
	if host, _, err := net.SplitHostPort(cfg.Admin.Listen); err == nil && host != "" {
		access.Hosts = append(slices.Clip(access.Hosts), host)
	}
	return web.WithCacheAPI(web.NewAdminHandler(s.hub, s.metrics, access, func() bool { return !s.web.Draining() }), s.vodCache, access)
}

// newPuller pulls with the upstream settings of the current config: origins
// and headers as a reload leaves them, the rest as at start.
func (s *server) newPuller(u config.Upstream) (*relay.Puller, error) {
	client, err := upstreamClient(u)
	if err != nil {
		return nil, err
	}
	pc := u.PullConfig()
	pc.Client = client
	pc.Origins = func(app string) []string { return s.cfg.Load().Upstream.OriginsFor(app) }
	pc.Header = func() http.Header {
		header := make(http.Header)
		for k, v := range s.cfg.Load().Upstream.Headers {
			header.Set(k, v)
		}
		return header
	}
	return relay.NewPuller(s.hub, pc)
}

// drain lets the server go without cutting viewers off: it stops taking new
// ones (readiness fails, listeners close), asks publishers to reconnect
// elsewhere, and waits for the viewers to leave, at most timeout. Then it
// ends the streams of those that remain, so that every response ends as
// it should: the last chunk on HTTP/1.1, END_STREAM on HTTP/2 and HTTP/3.
func (s *server) drain(timeout time.Duration, logger *slog.Logger) {
	s.stopping.Store(true)
	logger.Info("draining", "viewers", s.live.Active(), "for", timeout)
	if s.rtmp != nil {
		s.rtmpLn.Close()
		s.rtmp.RequestReconnect("", "The server is shutting down; please reconnect.")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if s.web.Shutdown(ctx) != nil {
		logger.Info("drain time over, ending the remaining viewers", "viewers", s.live.Active())
		s.hub.Close()
		// Each viewer's last write has the write timeout.
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Load().Viewers.WriteTimeout+time.Second)
		defer cancel()
		if s.web.Shutdown(ctx) != nil {
			logger.Warn("viewers still writing their end", "viewers", s.live.Active())
		}
	}
	logger.Info("drained")
}

func (s *server) viewerLimits(cfg config.Config) web.Limits {
	return web.Limits{
		WriteTimeout:      cfg.Viewers.WriteTimeout,
		Coalesce:          cfg.Viewers.Coalesce,
		CoalesceMode:      cfg.Viewers.Mode(),
		CoalesceWrites:    cfg.Viewers.CoalesceWrites,
		MaxViewers:        maxViewers(cfg.Viewers.Max, s.fdLimit),
		MaxViewersPerConn: s.perConn,
	}
}

// serveRTMP reports an RTMP listener that fails on its own; once the
// server drains or closes, its error is expected.
func (s *server) serveRTMP() {
	err := s.rtmp.Serve(s.rtmpLn)
	if !s.stopping.Load() {
		s.failed <- fmt.Errorf("rtmp: %w", err)
	}
}

func (s *server) close() {
	s.closeOnce.Do(func() {
		s.stopping.Store(true)
		switch {
		case s.rtmp != nil:
			s.rtmp.Close()
		case s.rtmpLn != nil:
			s.rtmpLn.Close()
		}
		if s.web != nil {
			s.web.Close()
		}
		if s.puller != nil {
			s.puller.Close()
		}
		s.hub.Close()
		if s.vodCache != nil {
			s.vodCache.Close()
		}
		if s.guard != nil {
			s.guard.Close()
		}
	})
}

func (s *server) httpURL() string { return "http://" + hostPort(s.web.HTTPAddr()) }

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

// publishHandler lets RTMP publishers that the guard authorized into the
// hub, and counts them.
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

// publish lets an authorized publisher in, as the identity it proved.
func (h publishHandler) publish(req *rtmp.PublishRequest, id auth.PublishIdentity) (rtmp.Sink, error) {
	p, err := h.hub.PublishAs(req.App, req.Stream, string(id), func() { req.Close() })
	if err == nil {
		h.publishes.WithLabelValues("accepted", "").Inc()
		return p, nil
	}
	stream := "stream " + req.App + "/" + req.Stream
	reason, desc := "closing", ""
	switch {
	case errors.Is(err, relay.ErrBadName):
		reason, desc = "bad_name", err.Error()
	case errors.Is(err, relay.ErrStreamBusy):
		reason, desc = "busy", stream+" is already being published"
	case errors.Is(err, relay.ErrAtCapacity):
		reason, desc = "capacity", err.Error()
	case errors.Is(err, relay.ErrStreamHeld):
		reason, desc = "held", stream+" is waiting for its publisher to come back; try again after its grace period"
	}
	h.publishes.WithLabelValues("refused", reason).Inc()
	if desc == "" {
		return nil, err
	}
	return nil, &rtmp.StatusError{Code: "NetStream.Publish.BadName", Description: desc}
}
