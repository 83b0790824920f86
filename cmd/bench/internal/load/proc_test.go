package load

import (
	"os"
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
