package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flvedge/flvedge/vod"
)

// VOD is the serving of stored files.
type VOD struct {
	Roots      []VODRoot `yaml:"roots"`
	Extensions []string  `yaml:"extensions"`
	IndexCache ByteSize  `yaml:"index_cache"`
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
