//go:build e2e

package mp4

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
)

// committed are the fixtures the unit tests read from testdata/.
var committed = []string{fixAV, fixAVFast, fixAVFrag, fixBFrames}

// TestFixtures: the committed fixtures are what ffmpeg makes from their
// arguments (FLVEDGE_UPDATE_TESTDATA=1 rewrites them).
func TestFixtures(t *testing.T) {
	fixtures.CheckTestdata(t, committed...)
}

// clipOver4GB checks a clip of av.mp4 moved beyond 4 GiB (TestFileOver4GB)
// as TestClip checks a clip of the file: ffmpeg decodes the frames of the
// original.
func clipOver4GB(t *testing.T, big *File, src *os.File) {
	checkClip(t, big, src, decodeFixture(t, fixAV), 2.3, 4.1)
}

// frame is a decoded frame as ffmpeg's framemd5 muxer reports it.
type frame struct {
	pts, dur float64 // seconds
	hash     string
}

// decoded is what ffmpeg decodes of a file, by media type.
type decoded map[string][]frame

// decode has ffmpeg decode every stream of a file to the null muxer and to
// framemd5 in one pass and fails the test on anything it reports on
// stderr: the file must decode without error.
func decode(t testing.TB, path string) decoded {
	t.Helper()
	cmd := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-i", path,
		"-map", "0", "-f", "null", "-",
		"-map", "0", "-fps_mode", "passthrough", "-f", "framemd5", "pipe:1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg decoding %s: %v\n%s", path, err, stderr.Bytes())
	}
	tb := map[string]float64{}
	types := map[string]string{}
	d := decoded{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "#tb "); ok {
			idx, v, _ := strings.Cut(rest, ": ")
			num, den, _ := strings.Cut(v, "/")
			n, _ := strconv.ParseFloat(num, 64)
			dn, _ := strconv.ParseFloat(den, 64)
			tb[idx] = n / dn
			continue
		}
		if rest, ok := strings.CutPrefix(line, "#media_type "); ok {
			idx, v, _ := strings.Cut(rest, ": ")
			types[idx] = v
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 6 {
			t.Fatalf("framemd5 line %q", line)
		}
		idx := strings.TrimSpace(f[0])
		pts, _ := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
		dur, _ := strconv.ParseFloat(strings.TrimSpace(f[3]), 64)
		d[types[idx]] = append(d[types[idx]], frame{pts: pts * tb[idx], dur: dur * tb[idx], hash: strings.TrimSpace(f[5])})
	}
	return d
}

var fullDecodes sync.Map // fixture name → decoded

// decodeFixture decodes a whole fixture, once per test binary.
func decodeFixture(t testing.TB, name string) decoded {
	t.Helper()
	if d, ok := fullDecodes.Load(name); ok {
		return d.(decoded)
	}
	d := decode(t, fixture(t, name))
	fullDecodes.Store(name, d)
	return d
}

// probe is what ffprobe reads of a file.
type probe struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		StartTime string `json:"start_time"`
		Duration  string `json:"duration"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t testing.TB, path string) probe {
	t.Helper()
	cmd := exec.Command(testutil.RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error", "-show_streams", "-show_format", "-of", "json", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, stderr.Bytes())
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return p
}

func seconds(t testing.TB, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("ffprobe time %q: %v", s, err)
	}
	return v
}
