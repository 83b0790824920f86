package smooth

import (
	"strings"
	"testing"
)

// FuzzSmoothPath: the fragment-URL parser never panics, accepts only what
// it writes back identically (one URL per fragment; the manifest in any
// case), and bounds the stream name. Seeds under testdata/fuzz/FuzzSmoothPath.
func FuzzSmoothPath(f *testing.F) {
	for _, s := range []string{
		"Manifest",
		"manifest",
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
		if req.String() != p && !(req.manifest && strings.EqualFold(p, req.String())) {
			t.Fatalf("%q read as %+v, written %q", p, req, req.String())
		}
		if len(req.stream) > maxStreamName || (!req.manifest && !plainName(req.stream)) {
			t.Fatalf("stream name %q", req.stream)
		}
	})
}
