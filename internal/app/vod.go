package app

import (
	"log/slog"

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
