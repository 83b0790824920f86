// Package regiontest holds the region test: the two-region layout of
// deploy/configs (two ingests, a shield edge, an edge per region) run as
// real processes on hosts made of network namespaces by
// scripts/regiontest.sh, with ffmpeg publishing to both ingests and viewers
// playing in each region. The primary ingest's link is cut and restored,
// then the backup's: the viewers must play on throughout, and the shield's
// metrics must show each failover.
//
// The test needs root (network namespaces), iproute2, curl and ffmpeg. It
// fails, never skips, when the machine does not allow it: a region test
// that skipped would pass without testing anything. It is in the
// end-to-end tier: go test -tags e2e ./internal/regiontest.
package regiontest
