// Package config is the server's settings: the YAML schema, its documented
// defaults (default.yaml, embedded), the flags over them, and the checks
// that refuse a bad value with its line and key (or its flag) and the
// reason of the package it is for.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flvedge/flvedge/rtmp"
	"github.com/flvedge/flvedge/web"
)

// Default is the documented default configuration; every key is in it.
//
//go:embed default.yaml
var Default []byte

// Config is the whole file. Field comments live in default.yaml, next to
// the values operators edit.
type Config struct {
	RTMPListen string `yaml:"rtmp_listen"`
	HTTPListen string `yaml:"http_listen"`
	// HTTPSListen serves the same routes over TLS: HTTP/1.1 and HTTP/2
	// on TCP, HTTP/3 on UDP at the same port. Empty: none.
	HTTPSListen string `yaml:"https_listen"`
	TLS         TLS    `yaml:"tls"`
	// HTTPTimeouts apply to every HTTP listener.
	HTTPTimeouts HTTPTimeouts `yaml:"http_timeouts"`
	CORS         CORS         `yaml:"cors"`
	LogLevel     string       `yaml:"log_level"`
	Window       Window       `yaml:"window"`
	Publish      Publish      `yaml:"publish"`
	Viewers      Viewers      `yaml:"viewers"`
	Limits       Limits       `yaml:"limits"`
	Upstream     Upstream     `yaml:"upstream"`
	Pulls        []StaticPull `yaml:"pulls"`
	Admin        Admin        `yaml:"admin"`
	Access       Access       `yaml:"access"`
	VOD          VOD          `yaml:"vod"`
	Player       Player       `yaml:"player"`
}

type Window struct {
	Duration    time.Duration `yaml:"duration"`
	Bytes       ByteSize      `yaml:"bytes"`
	SlowViewers string        `yaml:"slow_viewers"`
}

type Publish struct {
	Grace            time.Duration `yaml:"grace"`
	Takeover         bool          `yaml:"takeover"`
	MaxTimestampJump time.Duration `yaml:"max_timestamp_jump"`
	MaxMessageSize   ByteSize      `yaml:"max_message_size"`
	MaxCommandSize   ByteSize      `yaml:"max_command_size"`
}

type Viewers struct {
	WriteTimeout time.Duration `yaml:"write_timeout"`
	Coalesce     time.Duration `yaml:"coalesce"`
	CoalesceMode string        `yaml:"coalesce_mode"`
	// CoalesceWrites is the adaptive mode's writes per second; 0: per CPU.
	CoalesceWrites int `yaml:"coalesce_writes"`
	Max            int `yaml:"max"`
	// MaxPerConnection caps the live viewers of one HTTP/2 or HTTP/3 connection.
	MaxPerConnection int           `yaml:"max_per_connection"`
	Drain            time.Duration `yaml:"drain"`
}

// Load reads the defaults, then the file at path over them (if path is not
// empty), then the overrides over both, and checks the result. A value
// that cannot work is reported with the flag that set it, or its key and
// line in the file, and the reason of the package it is for.
func Load(path string, overrides ...Override) (Config, error) {
	var c Config
	defaults, err := decode(Default, &c)
	if err != nil {
		return c, fmt.Errorf("config: embedded defaults: %w", err)
	}
	for _, o := range overrides {
		if !hasKey(defaults, o.Key) {
			return c, fmt.Errorf("--%s: sets %q, which is no key of the config", o.Flag, o.Key)
		}
	}
	var doc *yaml.Node
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if doc, err = decode(data, &c); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for _, o := range overrides {
		if err := o.Apply(&c); err != nil {
			return c, err
		}
	}
	if err := c.Check(); err != nil {
		return c, explain(err, path, doc, overrides)
	}
	return c, nil
}

// decode refuses unknown keys, so that a misspelt setting is not silently
// ignored. yaml's errors carry the line. It returns the document, whose
// nodes give the lines of the keys that Check refuses.
func decode(data []byte, c *Config) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// Check reports the first value that cannot work, with its key. The
// rules of the packages the values are for are theirs: Check calls their
// checks (rtmp.CheckMaxMessageSize, relay.CheckName, vod.Root.Check,
// vodcache.CheckOrigin, auth.Scope.Check, web.ParseCoalesceMode, ...),
// which their constructors call too (vod.New, vodcache.New,
// relay.NewPuller and Puller.Keep, auth.NewPolicy, rtmp.Server.Serve).
// Only the rules of the file itself are here: every key has its value in
// default.yaml, so a zero where a package would take its default is a
// mistake; the names of choices; listen addresses; bounds that keep a
// setting sane (a window of at least 1MiB).
func (c Config) Check() error {
	switch {
	case c.RTMPListen == "":
		return at(errors.New("must be an address such as :1935"), "rtmp_listen")
	case c.HTTPListen == "":
		return at(errors.New("must be an address such as :8080"), "http_listen")
	case c.Window.Duration <= 0:
		return at(errors.New("must be positive, e.g. 10s"), "window", "duration")
	case c.Window.Bytes < 1<<20:
		return at(errors.New("must be at least 1MiB"), "window", "bytes")
	case c.Window.SlowViewers != "skip" && c.Window.SlowViewers != "drop":
		return at(fmt.Errorf("%q is neither skip nor drop", c.Window.SlowViewers), "window", "slow_viewers")
	case c.Publish.Grace < 0:
		return at(errors.New("must not be negative (0 ends streams at once)"), "publish", "grace")
	case c.Publish.MaxTimestampJump <= 0:
		return at(errors.New("must be positive, e.g. 3s"), "publish", "max_timestamp_jump")
	}
	if err := rtmp.CheckMaxMessageSize(int64(c.Publish.MaxMessageSize)); err != nil {
		return at(err, "publish", "max_message_size")
	}
	if err := rtmp.CheckMaxCommandSize(int64(c.Publish.MaxCommandSize), int64(c.Publish.MaxMessageSize)); err != nil {
		return at(err, "publish", "max_command_size")
	}
	if err := c.Viewers.check(); err != nil {
		return err
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return at(err, "log_level")
	}
	for _, check := range []func() error{
		c.checkLimits, c.checkTLS, c.HTTPTimeouts.check, c.CORS.check, c.Admin.check,
		c.Upstream.check, c.checkPulls, c.VOD.check, c.Player.check, c.Access.check,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (v Viewers) check() error {
	switch {
	case v.WriteTimeout <= 0:
		return at(errors.New("must be positive, e.g. 15s"), "viewers", "write_timeout")
	case v.Coalesce < 0 || v.Coalesce > time.Second:
		return at(errors.New("must be between 0 and 1s"), "viewers", "coalesce")
	case v.CoalesceWrites < 0:
		return at(errors.New("must not be negative (0: 3000 per CPU)"), "viewers", "coalesce_writes")
	case v.MaxPerConnection < 1 || v.MaxPerConnection > 10000:
		return at(errors.New("must be between 1 and 10000"), "viewers", "max_per_connection")
	case v.Drain < 0:
		return at(errors.New("must not be negative"), "viewers", "drain")
	case v.Max < 0:
		return at(errors.New("must not be negative (0: as many as file descriptors allow)"), "viewers", "max")
	}
	_, err := web.ParseCoalesceMode(v.CoalesceMode)
	return at(err, "viewers", "coalesce_mode")
}

// Mode is the web package's form of coalesce_mode, which Check checked.
func (v Viewers) Mode() web.CoalesceMode {
	m, _ := web.ParseCoalesceMode(v.CoalesceMode)
	return m
}

// ByteSize is a size in bytes, written as a plain number or with a unit:
// 512KiB, 64MiB, 1GiB (also KB, MB, GB as powers of 1000).
type ByteSize int64

func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// ParseByteSize reads "64MiB", "1500000" and the like.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = strings.TrimSpace(num), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("%q is not a size such as 64MiB", s)
	}
	return ByteSize(n * factor), nil
}

// ParseLogLevel reads debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("%q is not debug, info, warn or error", s)
	}
	return l, nil
}
