package vod

import (
	"testing"
)

// FuzzSmoothPath: the fragment-URL parser never panics, accepts only what
// it writes back identically (one URL per fragment), and bounds the stream
// name. Seeds under testdata/fuzz/FuzzSmoothPath.
func FuzzSmoothPath(f *testing.F) {
	for _, s := range []string{
		"Manifest",
		"QualityLevels(500000)/Fragments(video=0)",
		"QualityLevels(64464)/Fragments(audio=10000000)",
		"QualityLevels(18446744073709551615)/Fragments(video=18446744073709551615)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req, ok := parseSmoothPath(p)
		if !ok {
			return
		}
		if req.String() != p {
			t.Fatalf("%q read as %+v, written %q", p, req, req.String())
		}
		if len(req.stream) > maxStreamName || (!req.manifest && !plainName(req.stream)) {
			t.Fatalf("stream name %q", req.stream)
		}
	})
}
