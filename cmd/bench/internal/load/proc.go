package load

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// procSample is what /proc tells of a process and its descendants at one
// moment.
type procSample struct {
	// cpu is user plus system time since they started, with that of
	// descendants that have ended and were waited for, so that the sum
	// does not drop when one ends (nginx's cache loader).
	cpu time.Duration
	rss int64 // resident sets added up, bytes (pages shared between processes count in each)
}

// userHZ is the unit of the times in /proc/PID/stat. The kernel reports
// them in USER_HZ, which is 100 on every Linux architecture Go runs on.
const userHZ = 100

// maxProcTree bounds the processes readProc adds up: a server's workers,
// not a whole system.
const maxProcTree = 256

// readProc samples process pid and its descendants: a server made of
// processes, such as nginx's master and workers, is measured whole.
func readProc(pid int) (procSample, error) {
	total, err := readOneProc(pid)
	if err != nil {
		return procSample{}, err
	}
	pending := childrenOf(pid)
	for seen := 1; len(pending) > 0 && seen < maxProcTree; seen++ {
		child := pending[0]
		pending = pending[1:]
		s, err := readOneProc(child)
		if err != nil {
			continue // it ended meanwhile: its parent's waited-for time has it
		}
		total.cpu += s.cpu
		total.rss += s.rss
		pending = append(pending, childrenOf(child)...)
	}
	return total, nil
}

func readOneProc(pid int) (procSample, error) {
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

// childrenOf lists the children of every thread of process pid; none when
// it cannot be read (the process ended, or a kernel without the list).
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var children []int
	for _, task := range tasks {
		list, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(list) {
			if child, err := strconv.Atoi(string(f)); err == nil {
				children = append(children, child)
			}
		}
	}
	return children
}

// parseProc reads utime, stime, cutime and cstime (fields 14 to 17) from a
// stat file and VmRSS from a status file.
func parseProc(stat, status []byte) (procSample, error) {
	// The command name, field 2, is in parentheses and may hold spaces and
	// parentheses itself: fields are counted from the last ')'.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return procSample{}, fmt.Errorf("stat %q: no command name", stat)
	}
	fields := bytes.Fields(stat[end+1:]) // field 3 onwards
	if len(fields) < 15 {
		return procSample{}, fmt.Errorf("stat: %d fields", len(fields)+2)
	}
	var ticks int64
	for _, f := range fields[11:15] {
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
