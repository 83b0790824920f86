package app

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// runAsCommand names the environment variable that makes the test binary
// run a command (ingest or edge) with its arguments instead of the tests,
// so that a test sees a whole process: its exit, and what it did before.
const runAsCommand = "FLVEDGE_TEST_COMMAND"

func TestMain(m *testing.M) {
	if role := os.Getenv(runAsCommand); role != "" {
		Main(Role(role))
		os.Exit(0)
	}
	code := m.Run()
	// The tests' own keep-alive connections are not the server's goroutines.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
