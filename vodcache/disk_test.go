package vodcache

import (
	"io/fs"
	"syscall"
)

// diskUse is the disk a file takes: its blocks, sparse files included.
func diskUse(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}
