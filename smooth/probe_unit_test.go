//go:build !e2e

package smooth

import "testing"

// probePackets returns the decoding times (seconds) and keyframe flags of
// the samples of the first track of a kind ("video", "audio") of a file,
// and where the last ends, from its sample table. The end-to-end tier asks
// ffprobe instead (probe_e2e_test.go), a reader independent of the mp4
// package the server cuts with.
func probePackets(t *testing.T, path, kind string) (dts []float64, key []bool, end float64) {
	t.Helper()
	track, _ := sourceTrack(t, path, kind)
	scale := float64(track.Timescale)
	for _, s := range track.Samples.Samples(0, track.Samples.Len()) {
		dts = append(dts, float64(s.Time)/scale)
		key = append(key, s.Keyframe)
		end = float64(s.Time+uint64(s.Duration)) / scale
	}
	return dts, key, end
}
