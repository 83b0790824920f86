// Package config is the server's settings: the YAML schema, its documented
// defaults (default.yaml, embedded), and the checks that refuse a bad file
// with its line and a reason.
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
// empty), and checks the result.
func Load(path string) (Config, error) {
	var c Config
	if err := decode(Default, &c); err != nil {
		return c, fmt.Errorf("config: embedded defaults: %w", err)
	}
	if path == "" {
		return c, c.Check()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := decode(data, &c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// decode refuses unknown keys, so that a misspelt setting is not silently
// ignored. yaml's errors carry the line.
func decode(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return err
	}
	return nil
}

// Check reports the first value that cannot work.
func (c Config) Check() error {
	switch {
	case c.RTMPListen == "":
		return errors.New("rtmp_listen: must be an address such as :1935")
	case c.HTTPListen == "":
		return errors.New("http_listen: must be an address such as :8080")
	case c.Window.Duration <= 0:
		return errors.New("window.duration: must be positive, e.g. 10s")
	case c.Window.Bytes < 1<<20:
		return errors.New("window.bytes: must be at least 1MiB")
	case c.Window.SlowViewers != "skip" && c.Window.SlowViewers != "drop":
		return fmt.Errorf("window.slow_viewers: %q is neither skip nor drop", c.Window.SlowViewers)
	case c.Publish.Grace < 0:
		return errors.New("publish.grace: must not be negative (0 ends streams at once)")
	case c.Publish.MaxTimestampJump <= 0:
		return errors.New("publish.max_timestamp_jump: must be positive, e.g. 3s")
	case c.Publish.MaxMessageSize < 64<<10 || c.Publish.MaxMessageSize > 1<<24-1:
		return errors.New("publish.max_message_size: must be between 64KiB and 16MiB-1")
	case c.Publish.MaxCommandSize < 4<<10 || c.Publish.MaxCommandSize > c.Publish.MaxMessageSize:
		return errors.New("publish.max_command_size: must be between 4KiB and publish.max_message_size")
	case c.Viewers.WriteTimeout <= 0:
		return errors.New("viewers.write_timeout: must be positive, e.g. 15s")
	case c.Viewers.Coalesce < 0 || c.Viewers.Coalesce > time.Second:
		return errors.New("viewers.coalesce: must be between 0 and 1s")
	case c.Viewers.CoalesceMode != "adaptive" && c.Viewers.CoalesceMode != "fixed":
		return fmt.Errorf("viewers.coalesce_mode: %q is neither adaptive nor fixed", c.Viewers.CoalesceMode)
	case c.Viewers.CoalesceWrites < 0:
		return errors.New("viewers.coalesce_writes: must not be negative (0: 3000 per CPU)")
	case c.Viewers.MaxPerConnection < 1 || c.Viewers.MaxPerConnection > 10000:
		return errors.New("viewers.max_per_connection: must be between 1 and 10000")
	case c.Viewers.Drain < 0:
		return errors.New("viewers.drain: must not be negative")
	case c.Viewers.Max < 0:
		return errors.New("viewers.max: must not be negative (0: as many as file descriptors allow)")
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	if err := c.checkLimits(); err != nil {
		return err
	}
	if err := c.checkTLS(); err != nil {
		return err
	}
	if err := c.HTTPTimeouts.check(); err != nil {
		return err
	}
	if err := c.CORS.check(); err != nil {
		return err
	}
	if err := c.Admin.check(); err != nil {
		return err
	}
	if err := c.Upstream.check(); err != nil {
		return err
	}
	for _, p := range c.Pulls {
		if err := p.check(); err != nil {
			return err
		}
	}
	if err := c.VOD.check(); err != nil {
		return err
	}
	if err := c.Player.check(); err != nil {
		return err
	}
	return c.Access.check()
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
		return l, fmt.Errorf("log_level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}
