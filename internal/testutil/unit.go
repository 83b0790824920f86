//go:build !e2e

package testutil

// E2E reports whether the test binary was built for the end-to-end tier
// (go test -tags e2e). Without the tag, fixtures come from testdata/.
const E2E = false
