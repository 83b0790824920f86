package app

import (
	"log/slog"
	"reflect"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/vod"
	"github.com/flvedge/flvedge/web"
)

// addVODFlags defines --vod-root, for both roles: edges serve VOD to their
// viewers, and ingests may serve recordings.
func addVODFlags(list overrideList) {
	list("vod-root", "serve the stored files of a directory: `PREFIX=DIR`, e.g. /vod=/srv/videos; repeat for more roots (replaces vod.roots)", func(c *config.Config, values []string) error {
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
}

// vodMounts returns the routes of the configured VOD roots, one handler
// for all of them; none without roots. A root that is not a directory stops
// the start.
func vodMounts(cfg config.Config, logger *slog.Logger) ([]web.Mount, error) {
	if len(cfg.VOD.Roots) == 0 {
		return nil, nil
	}
	vc := cfg.VOD.Config()
	vc.WriteTimeout = cfg.Viewers.WriteTimeout
	vc.Logger = logger
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
	return mounts, nil
}

// vodServing is the VOD routes in force and the settings they were built
// from.
type vodServing struct {
	built        bool
	vod          config.VOD
	writeTimeout time.Duration
	mounts       []web.Mount
}

// next returns the VOD routes of cfg. A reload that leaves their settings
// alone keeps the handler: its index cache and the scans under way are live
// state, which a reload does not drop.
func (v vodServing) next(cfg config.Config, logger *slog.Logger) (vodServing, error) {
	if v.built && v.writeTimeout == cfg.Viewers.WriteTimeout && reflect.DeepEqual(v.vod, cfg.VOD) {
		return v, nil
	}
	mounts, err := vodMounts(cfg, logger)
	if err != nil {
		return v, err
	}
	return vodServing{built: true, vod: cfg.VOD, writeTimeout: cfg.Viewers.WriteTimeout, mounts: mounts}, nil
}
