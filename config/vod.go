package config

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/flvedge/flvedge/vod"
	"github.com/flvedge/flvedge/vodcache"
)

// VOD is the serving of stored files.
type VOD struct {
	Roots      []VODRoot   `yaml:"roots"`
	Origins    []VODOrigin `yaml:"origins"`
	Cache      VODCache    `yaml:"cache"`
	Extensions []string    `yaml:"extensions"`
	IndexCache ByteSize    `yaml:"index_cache"`
}

// VODOrigin serves the files under Prefix from origin servers, through
// the disk cache.
type VODOrigin struct {
	Prefix  string            `yaml:"prefix"`
	URLs    []string          `yaml:"urls"`
	Headers map[string]string `yaml:"headers"`
}

// VODCache is the disk cache of the files of VOD origins.
type VODCache struct {
	Dir                 string        `yaml:"dir"`
	Size                ByteSize      `yaml:"size"`
	Slice               ByteSize      `yaml:"slice"`
	DefaultLifetime     time.Duration `yaml:"default_lifetime"`
	StaleIfError        time.Duration `yaml:"stale_if_error"`
	ConnectTimeout      time.Duration `yaml:"connect_timeout"`
	ResponseTimeout     time.Duration `yaml:"response_timeout"`
	PrefetchConcurrency int           `yaml:"prefetch_concurrency"`
}

// ParseVODOrigin reads the --vod-origin form PREFIX=URL, such as
// /vod=http://origin:8080.
func ParseVODOrigin(s string) (prefix, url string, err error) {
	prefix, url, ok := strings.Cut(s, "=")
	if !ok || url == "" {
		return "", "", fmt.Errorf("%q: want PREFIX=URL, such as /vod=http://origin:8080", s)
	}
	return prefix, url, nil
}

// CacheConfig is the vodcache package's form of these settings.
func (v VOD) CacheConfig() vodcache.Config {
	c := vodcache.Config{
		Dir: v.Cache.Dir, MaxBytes: int64(v.Cache.Size), SliceSize: int64(v.Cache.Slice),
		DefaultLifetime: v.Cache.DefaultLifetime, StaleIfError: v.Cache.StaleIfError,
		ConnectTimeout: v.Cache.ConnectTimeout, ResponseTimeout: v.Cache.ResponseTimeout,
		Prefetchers: v.Cache.PrefetchConcurrency,
	}
	for _, o := range v.Origins {
		header := make(http.Header)
		for k, val := range o.Headers {
			header.Set(k, val)
		}
		c.Origins = append(c.Origins, vodcache.Origin{Prefix: o.Prefix, URLs: o.URLs, Header: header})
	}
	return c
}

// VODRoot serves the files under Dir at the URL path Prefix.
type VODRoot struct {
	Prefix         string `yaml:"prefix"`
	Dir            string `yaml:"dir"`
	FollowSymlinks bool   `yaml:"follow_symlinks"`
}

// ParseVODRoot reads the --vod-root form PREFIX=DIR, such as
// /vod=/srv/videos.
func ParseVODRoot(s string) (VODRoot, error) {
	prefix, dir, ok := strings.Cut(s, "=")
	if !ok || dir == "" {
		return VODRoot{}, fmt.Errorf("%q: want PREFIX=DIR, such as /vod=/srv/videos", s)
	}
	return VODRoot{Prefix: prefix, Dir: dir}, nil
}

// Config is the vod package's form of these settings.
func (v VOD) Config() vod.Config {
	c := vod.Config{Extensions: v.Extensions, IndexCacheBytes: int64(v.IndexCache)}
	for _, r := range v.Roots {
		c.Roots = append(c.Roots, vod.Root{Prefix: r.Prefix, Dir: r.Dir, FollowSymlinks: r.FollowSymlinks})
	}
	return c
}

// check refuses what vod.New and vodcache.New would, but for the
// directories, which are looked at when the server starts.
func (v VOD) check() error {
	vc := v.Config()
	for i, r := range vc.Roots {
		if err := r.Check(); err != nil {
			return at(err, "vod", "roots", i)
		}
	}
	for i, e := range vc.Extensions {
		if err := vod.CheckExtension(e); err != nil {
			return at(err, "vod", "extensions", i)
		}
	}
	// What needs the whole list: a prefix given twice, an empty list.
	if err := (vod.Config{Extensions: vc.Extensions}).Check(); err != nil {
		return at(err, "vod", "extensions")
	}
	if err := (vod.Config{Roots: vc.Roots}).Check(); err != nil {
		return at(err, "vod", "roots")
	}
	if v.IndexCache < 1<<20 {
		return at(errors.New("must be at least 1MiB"), "vod", "index_cache")
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"default_lifetime", v.Cache.DefaultLifetime}, {"connect_timeout", v.Cache.ConnectTimeout}, {"response_timeout", v.Cache.ResponseTimeout}} {
		if d.d <= 0 {
			return at(errors.New("must be positive"), "vod", "cache", d.key)
		}
	}
	if v.Cache.StaleIfError < 0 {
		return at(errors.New("must not be negative (0: never)"), "vod", "cache", "stale_if_error")
	}
	if v.Cache.PrefetchConcurrency < 1 {
		return at(errors.New("must be at least 1"), "vod", "cache", "prefetch_concurrency")
	}
	if len(v.Origins) == 0 {
		return nil // no cache
	}
	cc := v.CacheConfig()
	for i, o := range cc.Origins {
		if err := vod.CheckPrefix(o.Prefix); err != nil {
			return at(err, "vod", "origins", i, "prefix")
		}
		if slices.ContainsFunc(vc.Roots, func(r vod.Root) bool { return r.Prefix == o.Prefix }) {
			return at(fmt.Errorf("prefix %s is also a root", o.Prefix), "vod", "origins", i, "prefix")
		}
		if err := vodcache.CheckOrigin(o); err != nil {
			return at(err, "vod", "origins", i)
		}
	}
	if err := vodcache.CheckDir(cc.Dir); err != nil {
		return at(err, "vod", "cache", "dir")
	}
	if err := vodcache.CheckSliceSize(cc.SliceSize); err != nil {
		return at(err, "vod", "cache", "slice")
	}
	if err := vodcache.CheckMaxBytes(cc.MaxBytes, cc.SliceSize); err != nil {
		return at(err, "vod", "cache", "size")
	}
	return at(vodcache.CheckConfig(cc), "vod", "origins") // what needs them together: a prefix given twice
}
