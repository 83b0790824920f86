package vodcache

import (
	"errors"
	"fmt"
)

// CheckDir reports whether dir can be Config.Dir.
func CheckDir(dir string) error {
	if dir == "" {
		return errors.New("cache dir: must be set")
	}
	return nil
}

// CheckSliceSize reports whether n can be Config.SliceSize (0: the
// default).
func CheckSliceSize(n int64) error {
	if n != 0 && (n < minSlice || n > maxSlice) {
		return fmt.Errorf("slice size %d: must be between 64KiB and 64MiB", n)
	}
	return nil
}

// CheckMaxBytes reports whether n can be Config.MaxBytes with slices of
// the given Config.SliceSize.
func CheckMaxBytes(n, sliceSize int64) error {
	if slice := orDefault(sliceSize, DefaultSliceSize); n < 4*slice {
		return fmt.Errorf("cache size %d: must be at least four slices (%d bytes)", n, 4*slice)
	}
	return nil
}
