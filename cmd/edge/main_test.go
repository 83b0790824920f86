package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain runs the command itself when a test starts this test binary
// again with EDGE_MAIN set, so that the tests see what a user of the
// binary sees: its dispatch, its output and its exit status.
func TestMain(m *testing.M) {
	if os.Getenv("EDGE_MAIN") == "1" {
		os.Args = append([]string{"edge"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// edge runs the command with args and returns its output and exit status.
func edge(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EDGE_MAIN=1")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestSignIsASubcommand(t *testing.T) {
	// The README's example, with a fixed expiry: the token of auth's
	// openssl-computed fixtures.
	out, stderr, code := edge(t, "sign", "--secure-token-secret", "s3cret", "--expires", "2000000000", "/live/x.flv")
	if code != 0 || strings.TrimSpace(out) != "/live/x.flv?md5=9iAuffAIMgXPEDKLrDyVUA&expires=2000000000" {
		t.Fatalf("edge sign: exit %d, %q, stderr %q", code, out, stderr)
	}
	if _, stderr, code := edge(t, "sign", "--expires", "soon", "/live/x.flv"); code != 2 || !strings.HasPrefix(stderr, "sign: --expires:") {
		t.Fatalf("edge sign with a bad flag: exit %d, stderr %q", code, stderr)
	}
}

func TestHelpListsTheSubcommands(t *testing.T) {
	_, stderr, code := edge(t, "-h")
	if code != 2 || !strings.Contains(stderr, "edge sign [flags] PATH") || !strings.Contains(stderr, "-origin") {
		t.Fatalf("edge -h: exit %d, usage:\n%s", code, stderr)
	}
}
