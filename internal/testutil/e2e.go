//go:build e2e

package testutil

// E2E reports whether the test binary was built for the end-to-end tier
// (go test -tags e2e): fixtures are made afresh with ffmpeg and checked
// against the committed ones.
const E2E = true
