package testutil

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main runs a package's tests with its fixtures made in a temporary
// directory, removed after, and returns the exit code for os.Exit: 1 when
// a goroutine outlives tests that passed (goleak).
func Main(m *testing.M, fixtures ...*Fixtures) int {
	dir, err := os.MkdirTemp("", "flvedge-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, f := range fixtures {
		f.Dir = dir
	}
	code := m.Run()
	os.RemoveAll(dir)
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	return code
}
