package app

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// windowBytes is limits.window_bytes, or when it is 0 half the memory the
// process may use: what the streams' windows may take together, leaving
// the rest to connections, viewers, VOD caches and the heap's slack.
func windowBytes(configured int64, logger *slog.Logger) int64 {
	if configured > 0 {
		return configured
	}
	mem, from := memoryLimit()
	if mem == 0 {
		logger.Warn("cannot tell the memory available; the streams' windows are bounded one by one only (set limits.window_bytes)")
		return 0
	}
	logger.Info("streams' windows bounded together", "bytes", mem/2, "memory", mem, "from", from)
	return mem / 2
}

// memoryLimit is the cgroup's memory.max (cgroup v2) when one is set, else
// the machine's RAM; 0 when neither can be read.
func memoryLimit() (int64, string) {
	ram := meminfoTotal()
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil && n > 0 && (ram == 0 || n < ram) {
			return n, "cgroup memory.max"
		}
	}
	return ram, "/proc/meminfo"
}

func meminfoTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}
