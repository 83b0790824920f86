package load

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseProc(t *testing.T) {
	// A command name with a space and a parenthesis, as a process may
	// choose; utime 1234 and stime 766 ticks.
	stat := "4242 (my (x) srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 766 0 0 20 0 8 0 100 2000000 500 18446744073709551615\n"
	status := "Name:\tsrv\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t8\n"
	p, err := parseProc([]byte(stat), []byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if p.cpu != 20*time.Second || p.rss != 12345*1024 {
		t.Errorf("cpu %s rss %d", p.cpu, p.rss)
	}
	for _, tc := range []struct{ stat, status, err string }{
		{"4242 srv S 1", status, "no command name"},
		{"4242 (srv) S 1 2 3", status, "fields"},
		{strings.Replace(stat, "1234", "x", 1), status, "cpu time"},
		{stat, "Name:\tsrv\n", "no VmRSS"},
		{stat, "VmRSS:\t12 MB\n", "VmRSS line"},
	} {
		if _, err := parseProc([]byte(tc.stat), []byte(tc.status)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q / %q: error %v, want one with %q", tc.stat, tc.status, err, tc.err)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.rss < 1<<20 {
		t.Errorf("RSS of this test is %d bytes", p.rss)
	}
	if _, err := readProc(-1); err == nil {
		t.Error("no error for pid -1")
	}
}

// A server made of processes is measured whole: the children that run,
// and the time of those that ended and were waited for.
func TestReadProcTree(t *testing.T) {
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sleeper.Process.Kill()
		sleeper.Wait()
	}()
	if !slices.Contains(childrenOf(os.Getpid()), sleeper.Process.Pid) {
		t.Errorf("children %v, without the sleeper %d", childrenOf(os.Getpid()), sleeper.Process.Pid)
	}
	if children := childrenOf(sleeper.Process.Pid); len(children) != 0 {
		t.Errorf("the sleeper has children %v", children)
	}

	before, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	busy := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")
	if err := busy.Run(); err != nil {
		t.Fatal(err)
	}
	after, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in ticks of 10 ms.
	spent := busy.ProcessState.UserTime() + busy.ProcessState.SystemTime()
	if got := after.cpu - before.cpu; got < spent-20*time.Millisecond {
		t.Errorf("CPU grew by %s while a child that used %s ran and was waited for", got, spent)
	}
}
