package load

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// procSample is what /proc tells of a process at one moment.
type procSample struct {
	cpu time.Duration // user plus system time since it started
	rss int64         // resident set, bytes
}

// userHZ is the unit of the times in /proc/PID/stat. The kernel reports
// them in USER_HZ, which is 100 on every Linux architecture Go runs on.
const userHZ = 100

// readProc samples process pid.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	return parseProc(stat, status)
}

// parseProc reads utime and stime (fields 14 and 15) from a stat file and
// VmRSS from a status file.
func parseProc(stat, status []byte) (procSample, error) {
	// The command name, field 2, is in parentheses and may hold spaces and
	// parentheses itself: fields are counted from the last ')'.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return procSample{}, fmt.Errorf("stat %q: no command name", stat)
	}
	fields := bytes.Fields(stat[end+1:]) // field 3 onwards
	if len(fields) < 13 {
		return procSample{}, fmt.Errorf("stat: %d fields", len(fields)+2)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return procSample{}, fmt.Errorf("stat: cpu time: %w", err)
		}
		ticks += v
	}
	s := procSample{cpu: time.Duration(ticks) * time.Second / userHZ}
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return procSample{}, fmt.Errorf("status: VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return procSample{}, fmt.Errorf("status: VmRSS: %w", err)
		}
		s.rss = kb << 10
		return s, nil
	}
	return procSample{}, fmt.Errorf("status: no VmRSS line (a kernel thread, or a zombie?)")
}

// selfCPU is the CPU time this process has used, to show whether the load
// tool itself was short of CPU.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
