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
	"slices"
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

func parseFlags(role Role, args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flagSet(role, &o, stderr)
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

// flagSet defines the flags of role, which parsing writes into o.
func flagSet(role Role, o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(string(role), flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	// rules in the guard, the VOD routes, and the handler tree built on
	// them. The guard itself, with the live counts of its limits, stays.
	cfg        atomic.Pointer[config.Config]
	guard      *auth.Guard
	vod        vodServing // changed by reloads only, on Run's goroutine
	refusalLog auth.Warner
	handler    atomic.Pointer[http.Handler]
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
	if s.https != nil {
		if err := s.cert.load(cfg.TLS); err != nil {
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
	s.handler.Store(&h)
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
		MaxStreams:       cfg.Limits.Streams,
		MaxPublishers:    cfg.Limits.Publishers,
		MaxWindow:        windowBytes(int64(cfg.Limits.WindowBytes), logger),
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
			if err := s.puller.Keep(app, name, p.URL); err != nil {
				s.puller.Close()
				s.httpLn.Close()
				if s.rtmpLn != nil {
					s.rtmpLn.Close()
				}
				return nil, err
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
	// abort undoes what is started so far.
	abort := func(err error) (*server, error) {
		s.httpLn.Close()
		if s.rtmpLn != nil {
			s.rtmpLn.Close()
		}
		s.hub.Close()
		if s.puller != nil {
			s.puller.Close()
		}
		if s.vodCache != nil {
			s.vodCache.Close()
		}
		return nil, err
	}
	if s.vodCache, err = newVODCache(cfg, logger); err != nil {
		return abort(err)
	}
	if s.vodCache != nil {
		s.metrics.MustRegister(web.NewCacheMetrics(s.vodCache))
	}
	if err := s.apply(cfg, logger); err != nil {
		return abort(err)
	}
	s.metrics.MustRegister(newRefusalCollector(s.guard))
	s.http = httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.handler.Load()).ServeHTTP(w, r) }), cfg.HTTPTimeouts, logger)
	s.limitStreams(s.http)
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
		if err := s.startAdmin(cfg, logger); err != nil {
			s.close()
			return nil, err
		}
	}
	if s.rtmpLn != nil {
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
		go s.serve("rtmp", func() error { return s.rtmp.Serve(s.rtmpLn) })
		logger.Info("listening", "role", role, "rtmp", s.rtmpLn.Addr().String(), "http", s.httpLn.Addr().String())
	} else {
		logger.Info("listening", "role", role, "http", s.httpLn.Addr().String(), "origins", cfg.Upstream.Origins, "vod", vodPrefixes(cfg))
	}
	return s, nil
}

// httpServer serves h with the listeners' timeouts. There is neither a
// ReadTimeout nor a WriteTimeout: they would cut the endless responses of
// live viewers, whose writes have deadlines of their own.
func httpServer(h http.Handler, t config.HTTPTimeouts, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		IdleTimeout:       t.Idle,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// startAdmin serves metrics and the stats API on their own listener, so that
// they can stay on a private address.
func (s *server) startAdmin(cfg config.Config, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	s.adminLn = ln
	access := web.AdminAccess{Token: cfg.Admin.Token, Hosts: cfg.Admin.Hosts}
	if host, _, err := net.SplitHostPort(cfg.Admin.Listen); err == nil && host != "" {
		access.Hosts = append(slices.Clip(access.Hosts), host)
	}
	s.admin = httpServer(web.WithCacheAPI(web.NewAdminHandler(s.hub, s.metrics, access, func() bool { return !s.draining.Load() }), s.vodCache, access), cfg.HTTPTimeouts, logger)
	// Its responses are all short.
	s.admin.WriteTimeout = 30 * time.Second
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
	s.draining.Store(true)
	logger.Info("draining", "viewers", s.live.Active(), "for", timeout)
	if s.rtmp != nil {
		s.rtmpLn.Close()
		s.rtmp.RequestReconnect("", "The server is shutting down; please reconnect.")
	}
	// Shutdown closes the listeners, sends HTTP/2 and HTTP/3 clients a
	// GOAWAY and waits for the requests it tracks; HTTP/1.x viewers have
	// taken their connections over and are waited for apart. It runs until
	// the viewers have ended and their clients have gone, or ctx ends.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shutdown := make(chan struct{})
	go func() {
		defer close(shutdown)
		var wg sync.WaitGroup
		if s.https != nil {
			wg.Go(func() { s.https.Shutdown(ctx) })
		}
		if s.http3 != nil {
			wg.Go(func() { s.http3.Shutdown(ctx) })
		}
		s.http.Shutdown(ctx)
		wg.Wait()
	}()
	if !s.waitViewers(time.Now().Add(timeout)) {
		logger.Info("drain time over, ending the remaining viewers", "viewers", s.live.Active())
		s.hub.Close()
		// Each viewer's last write has the write timeout.
		if !s.waitViewers(time.Now().Add(s.cfg.Load().Viewers.WriteTimeout + time.Second)) {
			logger.Warn("viewers still writing their end", "viewers", s.live.Active())
		}
	}
	// The ends are written; give them and the GOAWAYs a moment to reach
	// the clients, which then close their connections.
	select {
	case <-shutdown:
	case <-time.After(endGrace):
	}
	cancel()
	<-shutdown
	logger.Info("drained")
}

// endGrace is how long ended responses have to reach their clients before
// the connections close.
const endGrace = 3 * time.Second

// waitViewers waits until every viewer's response has ended, at most until
// deadline, and reports whether they all did.
func (s *server) waitViewers(deadline time.Time) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.live.Active() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
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

// limitStreams lets an HTTP/2 connection of srv open more streams than it
// may have live viewers, so that the excess viewers are refused rather than
// left waiting for a stream, and counts each connection's live viewers (see
// web/streams.go).
func (s *server) limitStreams(srv *http.Server) {
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: s.perConn + web.StreamHeadroom}
	srv.ConnContext = func(ctx context.Context, _ net.Conn) context.Context { return web.WithConnViewers(ctx) }
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
		if s.vodCache != nil {
			s.vodCache.Close()
		}
		s.guard.Close()
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
