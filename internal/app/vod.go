package app

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/vod"
	"github.com/flvedge/flvedge/vodcache"
	"github.com/flvedge/flvedge/web"
)

// addVODFlags defines the VOD flags, for both roles: edges serve VOD to
// their viewers, from local roots or from origins through the cache, and
// ingests may serve recordings.
func addVODFlags(override func(name, key, usage string, set func(c *config.Config, value string) error), list overrideList) {
	list("vod-root", "vod.roots", "serve the stored files of a directory: `PREFIX=DIR`, e.g. /vod=/srv/videos; repeat for more roots (replaces vod.roots)", func(c *config.Config, values []string) error {
		roots := make([]config.VODRoot, 0, len(values))
		for _, v := range values {
			r, err := config.ParseVODRoot(v)
			if err != nil {
				return err
			}
			roots = append(roots, r)
		}
		c.VOD.Roots = roots
		return nil
	})
	list("vod-origin", "vod.origins", "serve the files under a prefix from an origin through the disk cache: `PREFIX=URL`, e.g. /vod=http://origin:8080; repeat for more prefixes, or for more origins of one prefix, tried in order (replaces vod.origins)", func(c *config.Config, values []string) error {
		var origins []config.VODOrigin
	next:
		for _, v := range values {
			prefix, url, err := config.ParseVODOrigin(v)
			if err != nil {
				return err
			}
			for i := range origins {
				if origins[i].Prefix == prefix {
					origins[i].URLs = append(origins[i].URLs, url)
					continue next
				}
			}
			origins = append(origins, config.VODOrigin{Prefix: prefix, URLs: []string{url}})
		}
		c.VOD.Origins = origins
		return nil
	})
	override("vod-cache-dir", "vod.cache.dir", "`directory` of the disk cache of --vod-origin files (vod.cache.dir)", func(c *config.Config, v string) error {
		c.VOD.Cache.Dir = v
		return nil
	})
	override("vod-cache-size", "vod.cache.size", "bound of the disk cache, a `size` such as 20GiB (vod.cache.size)", func(c *config.Config, v string) (err error) {
		c.VOD.Cache.Size, err = config.ParseByteSize(v)
		return err
	})
}

// vodMounts returns the routes of the configured VOD roots and origin
// prefixes, one handler for all of them; none without either. A root that
// is not a directory stops the start. The cache's origins are set by
// server.apply once the whole config is taken.
func vodMounts(cfg config.Config, cache *vodcache.Cache, logger *slog.Logger) ([]web.Mount, error) {
	if len(cfg.VOD.Roots) == 0 && len(cfg.VOD.Origins) == 0 {
		return nil, nil
	}
	vc := cfg.VOD.Config()
	vc.WriteTimeout = cfg.Viewers.WriteTimeout
	vc.AccessLog = cfg.Admin.AccessLog
	vc.Logger = logger
	if len(cfg.VOD.Origins) > 0 {
		if cache == nil {
			return nil, fmt.Errorf("vod.origins: the cache was not set up at start; restart to serve origins")
		}
		for _, o := range cfg.VOD.Origins {
			vc.Roots = append(vc.Roots, vod.Root{Prefix: o.Prefix, Source: vod.SourceOf(cache.Open)})
		}
	}
	h, err := vod.New(vc)
	if err != nil {
		return nil, err
	}
	var mounts []web.Mount
	for _, p := range h.Prefixes() {
		mounts = append(mounts, web.Mount{Prefix: p, Handler: h})
	}
	for _, r := range cfg.VOD.Roots {
		logger.Info("vod", "prefix", r.Prefix, "dir", r.Dir, "follow_symlinks", r.FollowSymlinks)
	}
	for _, o := range cfg.VOD.Origins {
		logger.Info("vod", "prefix", o.Prefix, "origins", o.URLs, "cache", cfg.VOD.Cache.Dir)
	}
	return mounts, nil
}

// vodServing is the VOD routes in force and the settings they were built
// from.
type vodServing struct {
	built        bool
	vod          config.VOD
	writeTimeout time.Duration
	accessLog    bool
	mounts       []web.Mount
}

// next returns the VOD routes of cfg. A reload that leaves their settings
// alone keeps the handler: its index cache and the scans under way are live
// state, which a reload does not drop.
func (v vodServing) next(cfg config.Config, cache *vodcache.Cache, logger *slog.Logger) (vodServing, error) {
	if v.built && v.writeTimeout == cfg.Viewers.WriteTimeout && v.accessLog == cfg.Admin.AccessLog && reflect.DeepEqual(v.vod, cfg.VOD) {
		return v, nil
	}
	mounts, err := vodMounts(cfg, cache, logger)
	if err != nil {
		return v, err
	}
	return vodServing{built: true, vod: cfg.VOD, writeTimeout: cfg.Viewers.WriteTimeout, accessLog: cfg.Admin.AccessLog, mounts: mounts}, nil
}

// newVODCache opens the disk cache when VOD origins are configured. Its
// directory and size are set at start; a reload changes the origins.
func newVODCache(cfg config.Config, logger *slog.Logger) (*vodcache.Cache, error) {
	if len(cfg.VOD.Origins) == 0 {
		return nil, nil
	}
	cc := cfg.VOD.CacheConfig()
	cc.Logger = logger
	return vodcache.New(cc)
}

// vodPrefixes lists the configured VOD prefixes, for logs.
func vodPrefixes(cfg config.Config) []string {
	var out []string
	for _, r := range cfg.VOD.Roots {
		out = append(out, r.Prefix)
	}
	for _, o := range cfg.VOD.Origins {
		out = append(out, o.Prefix)
	}
	slices.Sort(out)
	return out
}
