//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/testutil"
)

// scripts/bench-vod.sh works end to end, small: Debian's nginx as the
// origin and as the reference cache, the edge built from this tree, a few
// readers for a second each, every byte checked; cold reads cost the
// origin one copy of the file.
func TestBenchVODScript(t *testing.T) {
	for _, tool := range []string{"nginx", "curl", "ffmpeg"} {
		testutil.RequireTool(t, tool, tool)
	}
	script, err := filepath.Abs("../../scripts/bench-vod.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, script, "4", "1s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SIZE_MB=8", "COLD_READERS=3", "ROUNDS=1", "RANGE_SIZE=256KiB")
	// The script stops its servers on its way out.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	summary := string(out[bytes.LastIndex(out, []byte("== summary")):])
	for _, server := range []string{"nginx", "flvedge"} {
		for _, want := range []string{server + " cold, 1 reader: 1.000 copies", server + " hot, round 1: ", server + " cold, 3 readers: "} {
			if !strings.Contains(summary, want) {
				t.Errorf("no %q in the summary:\n%s", want, summary)
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "bench-vod-"+server+"-4-1.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Requests      int64            `json:"requests"`
			Errors        int64            `json:"errors"`
			CacheStatus   map[string]int64 `json:"cache_status"`
			VerifiedBytes int64            `json:"verified_bytes"`
			Server        struct {
				PerGB float64 `json:"cpu_seconds_per_gb"`
			}
		}
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Requests == 0 || rep.Errors != 0 || rep.CacheStatus["HIT"] != rep.Requests || rep.VerifiedBytes == 0 || rep.Server.PerGB <= 0 {
			t.Errorf("%s: %s", server, data)
		}
	}
	var copies float64
	for _, line := range strings.Split(summary, "\n") {
		if _, err := fmt.Sscanf(line[strings.Index(line, ":")+1:], " %f copies", &copies); err == nil && copies > 1.3 {
			t.Errorf("%s", line)
		}
	}
}
