package config

import (
	"errors"
	"fmt"
	"net/http"
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

// check refuses what vod.New would, except for the directories, which are
// looked at when the server starts.
func (v VOD) check() error {
	seen := map[string]bool{}
	for i, r := range v.Roots {
		if err := vod.CheckPrefix(r.Prefix); err != nil {
			return fmt.Errorf("vod.roots[%d]: %w", i, err)
		}
		if r.Dir == "" {
			return fmt.Errorf("vod.roots[%d]: dir: must name a directory", i)
		}
		if seen[r.Prefix] {
			return fmt.Errorf("vod.roots[%d]: prefix %s given twice", i, r.Prefix)
		}
		seen[r.Prefix] = true
	}
	if len(v.Origins) > 0 {
		if v.Cache.Dir == "" {
			return errors.New("vod.cache.dir: VOD origins need a cache directory (--vod-cache-dir)")
		}
		for i, o := range v.Origins {
			if err := vod.CheckPrefix(o.Prefix); err != nil {
				return fmt.Errorf("vod.origins[%d]: %w", i, err)
			}
			if seen[o.Prefix] {
				return fmt.Errorf("vod.origins[%d]: prefix %s is also a root", i, o.Prefix)
			}
		}
		if err := vodcache.CheckConfig(v.CacheConfig()); err != nil {
			return fmt.Errorf("vod.origins, vod.cache: %w", err)
		}
	}
	if v.Cache.DefaultLifetime <= 0 || v.Cache.ConnectTimeout <= 0 || v.Cache.ResponseTimeout <= 0 || v.Cache.PrefetchConcurrency < 1 || v.Cache.StaleIfError < 0 {
		return errors.New("vod.cache: default_lifetime, connect_timeout, response_timeout and prefetch_concurrency must be positive, stale_if_error not negative")
	}
	if len(v.Extensions) == 0 {
		return errors.New("vod.extensions: must list at least one, such as .flv")
	}
	for _, e := range v.Extensions {
		if len(e) < 2 || e[0] != '.' || strings.ContainsAny(e[1:], "./\\") {
			return fmt.Errorf("vod.extensions: %q must be a dot and a name, such as .flv", e)
		}
	}
	if v.IndexCache < 1<<20 {
		return errors.New("vod.index_cache: must be at least 1MiB")
	}
	return nil
}
