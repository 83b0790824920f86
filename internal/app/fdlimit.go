package app

import (
	"log/slog"
	"syscall"
)

// fdReserve is what a server keeps of its file descriptors for other things
// than viewers: listeners, publishers, origin connections, VOD files, logs.
const fdReserve = 256

// raiseFileLimit lifts the soft limit on open files to the hard one, as far
// as the system allows, and returns the limit in force. Each viewer is a
// socket: the usual soft limit of 1024 would cap an edge at about a
// thousand viewers. (Go's runtime raises it too since 1.19; doing it here
// makes the figure known and logged.)
func raiseFileLimit(logger *slog.Logger) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		logger.Warn("cannot read the open file limit", "err", err)
		return 0
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			logger.Warn("cannot raise the open file limit", "soft", lim.Cur, "hard", lim.Max, "err", err)
		} else {
			lim = raised
		}
	}
	logger.Info("open file limit", "limit", lim.Cur)
	return lim.Cur
}

// maxViewers is the configured cap, or what the file descriptor limit
// leaves after the reserve.
func maxViewers(configured int, fdLimit uint64) int {
	if configured > 0 || fdLimit == 0 {
		return configured
	}
	if fdLimit <= 2*fdReserve {
		return int(fdLimit / 2)
	}
	return int(min(fdLimit-fdReserve, 1<<30))
}
