package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/flvedge/flvedge/auth"
	"github.com/flvedge/flvedge/config"
)

// Sign prints a signed URL for a play path, or a signed publish key, with
// the token rule that the server's config and flags give that path: an
// operator checks a setup by playing what it prints.
func Sign(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge sign [flags] PATH      e.g. /live/cam1.flv, or /live/ for every file in it")
		fmt.Fprintln(stderr, "       edge sign --publish [flags] APP/STREAM")
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "the server's YAML config `file`, whose access rules sign")
	var secrets []string
	fs.Func("secure-token-secret", "MD5 token `secret`, as the server's flag (repeatable; the first signs)", func(v string) error {
		secrets = append(secrets, v)
		return nil
	})
	expires := fs.String("expires", "1h", "expiry: a `duration` from now (90m, 24h) or a Unix time")
	ip := fs.String("ip", "", "client `address` to bind the token to, for rules with bind_ip")
	inPath := fs.Bool("in-path", false, "put the token in front of the path (/TOKEN/EXPIRES/live/x.flv), not in the query")
	base := fs.String("base", "", "what to put in front, e.g. https://edge.example or rtmp://ingest.example")
	publish := fs.Bool("publish", false, "sign a publish key for APP/STREAM rather than a play path")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("one path to sign")
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	if len(secrets) > 0 {
		cfg.Access.SecureTokenSecrets = secrets
	}
	access, err := cfg.Access.Auth()
	if err != nil {
		return err
	}
	exp, err := parseExpiry(*expires, time.Now())
	if err != nil {
		return fmt.Errorf("--expires: %w", err)
	}
	var client netip.Addr
	if *ip != "" {
		if client, err = netip.ParseAddr(*ip); err != nil {
			return fmt.Errorf("--ip: %w", err)
		}
	}

	path := fs.Arg(0)
	var rule *auth.TokenRule
	if *publish {
		app, stream, ok := strings.Cut(strings.Trim(path, "/"), "/")
		if !ok || app == "" || stream == "" {
			return fmt.Errorf("%q is no APP/STREAM such as live/cam1", path)
		}
		path = "/" + app + "/" + stream
		rule, err = access.PublishToken(app)
	} else {
		rule, err = access.PlayToken(path)
	}
	if err != nil {
		return err
	}
	if rule == nil {
		return fmt.Errorf("no token rule applies to %s: give --secure-token-secret, or a --config with one", path)
	}
	signed, err := rule.Sign(path, exp, client)
	if err != nil {
		return err
	}
	out := signed.URL()
	switch {
	case *publish:
		// Stream names take the token in their query: OBS's stream key is
		// what follows the app.
		out = signed.Path + "?" + signed.Query()
	case *inPath:
		out = signed.InPath()
	}
	fmt.Fprintln(stdout, strings.TrimSuffix(*base, "/")+out)
	return nil
}

// parseExpiry reads a duration from now or a Unix time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if unix, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(unix, 0), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither a positive duration such as 24h nor a Unix time", s)
	}
	return now.Add(d), nil
}
