//go:build e2e

package vod

import (
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

// indexedCopies returns the names of the files that TestStartAtLastIndexEntry
// starts at the last index entry of: those given, whose index the server
// makes or takes, and a copy of the first that yamdi indexed.
func indexedCopies(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	yamdi := testutil.RequireTool(t, "yamdi", "yamdi")
	if b, err := exec.Command(yamdi, "-i", filepath.Join(dir, names[0]), "-o", filepath.Join(dir, "yamdi.flv")).CombinedOutput(); err != nil {
		t.Fatalf("yamdi: %v\n%s", err, b)
	}
	return append(names, "yamdi.flv")
}

// TestVirtualIndexMatchesYamdi serves files without a keyframe index and
// compares the index in the served onMetaData with the one yamdi writes
// for the same file: the same times, and the same positions once each is
// taken from its own file's first media tag (the onMetaData sizes differ).
func TestVirtualIndexMatchesYamdi(t *testing.T) {
	yamdi := testutil.RequireTool(t, "yamdi", "yamdi")
	for _, name := range []string{fixAV, fixVideo} {
		t.Run(name, func(t *testing.T) {
			s := newVODServer(t, name)
			resp, body := s.get(t, "/vod/"+name)
			if resp.StatusCode != 200 {
				t.Fatalf("GET: %d", resp.StatusCode)
			}
			_, tags := parseFLV(t, body)
			meta := metaOf(t, tags)
			pos, times := keyframesOf(t, meta)

			out := filepath.Join(t.TempDir(), "yamdi.flv")
			if b, err := exec.Command(yamdi, "-i", filepath.Join(s.dir, name), "-o", out).CombinedOutput(); err != nil {
				t.Fatalf("yamdi: %v\n%s", err, b)
			}
			_, ytags := parseFLV(t, readFile(t, out))
			ypos, ytimes := keyframesOf(t, metaOf(t, ytags))

			if !slices.Equal(times, ytimes) {
				t.Fatalf("times differ:\nours  %v\nyamdi %v", times, ytimes)
			}
			ours, theirs := firstMediaPos(t, tags), firstMediaPos(t, ytags)
			for i := range pos {
				if pos[i]-float64(ours) != ypos[i]-float64(theirs) {
					t.Fatalf("position %d: ours %v (first tag at %d), yamdi %v (first tag at %d)", i, pos[i], ours, ypos[i], theirs)
				}
			}
			if len(pos) < 10 {
				t.Fatalf("only %d keyframes", len(pos))
			}
			// Every entry is a keyframe-type tag of the served file.
			checkEntries(t, pos, tags, isKeyframeType, "a keyframe-type tag")
			if got := numberOf(t, meta, "filesize"); got != float64(len(body)) {
				t.Fatalf("filesize %v, body %d", got, len(body))
			}
			// The duration runs to the end of the last frame (yamdi writes
			// the last timestamp): for the audio and video file, the end of
			// the audio as ffmpeg wrote it; for the video-only copy, 250
			// frames of 40 ms (ffmpeg copied the duration with audio).
			want := 10.0
			if name == fixAV {
				want = storedDuration(t, filepath.Join(s.dir, name))
			}
			if d := numberOf(t, meta, "duration"); math.Abs(d-want) > 0.05 {
				t.Fatalf("duration %v, stored file says %v", d, want)
			}
		})
	}
}

// firstMediaPos is where the first audio or video tag of a body starts:
// what follows the header and the onMetaData.
func firstMediaPos(t *testing.T, tags []tagAt) int64 {
	t.Helper()
	for _, tag := range tags {
		if tag.Type != flv.TagScript {
			return tag.pos
		}
	}
	t.Fatal("no media tag")
	return 0
}

// storedDuration reads the duration ffmpeg wrote into a file's onMetaData.
func storedDuration(t *testing.T, path string) float64 {
	t.Helper()
	_, tags := parseFLV(t, readFile(t, path))
	return numberOf(t, metaOf(t, tags), "duration")
}
