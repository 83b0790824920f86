package vod

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// CheckPrefix reports whether p can be a root's URL prefix: absolute,
// clean, not "/" and without a trailing slash.
func CheckPrefix(p string) error {
	if p == "" || p[0] != '/' || p == "/" || strings.HasSuffix(p, "/") || filepath.ToSlash(filepath.Clean(p)) != p {
		return fmt.Errorf("prefix %q: must be a clean path such as /vod", p)
	}
	return nil
}

// CheckExtension reports whether e can be one of Config.Extensions: a dot
// and a name, such as .flv.
func CheckExtension(e string) error {
	if len(e) < 2 || e[0] != '.' || strings.ContainsAny(e[1:], "./\\") {
		return fmt.Errorf("extension %q: must be a dot and a name, such as .flv", e)
	}
	return nil
}

// Check reports what keeps r from being served, short of looking at the
// disk: its prefix, and a directory unless its files come from a Source.
func (r Root) Check() error {
	if err := CheckPrefix(r.Prefix); err != nil {
		return err
	}
	if r.Source == nil && r.Dir == "" {
		return fmt.Errorf("root %s: dir: must name a directory", r.Prefix)
	}
	return nil
}

// Check reports the first setting of c that cannot work, short of looking
// at the disk, which New does too: the roots' directories must exist.
func (c Config) Check() error {
	if c.Extensions != nil && len(c.Extensions) == 0 {
		return errors.New("extensions: an empty list serves nothing; list at least one, such as .flv (nil: .flv and .mp4)")
	}
	for _, e := range c.Extensions {
		if err := CheckExtension(e); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(c.Roots))
	for _, r := range c.Roots {
		if err := r.Check(); err != nil {
			return err
		}
		if seen[r.Prefix] {
			return fmt.Errorf("prefix %s given twice", r.Prefix)
		}
		seen[r.Prefix] = true
	}
	return nil
}
