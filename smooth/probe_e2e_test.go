//go:build e2e

package smooth

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/internal/testutil"
)

// committed are the fixtures the unit tests read from testdata/: all of them.
var committed = []string{ssHigh, ssLow, ssSingle}

// TestFixtures: the committed fixtures are what ffmpeg makes from their
// arguments (FLVEDGE_UPDATE_TESTDATA=1 rewrites them).
func TestFixtures(t *testing.T) {
	fixtures.CheckTestdata(t, committed...)
}

// probePackets returns the decoding times (seconds) and keyframe flags of
// the packets of the first stream of a kind ("video", "audio") of a file,
// and where the last ends, as ffprobe reads them: a reader other than the
// mp4 package the server cuts with. The unit tier reads the sample table
// instead (probe_unit_test.go).
func probePackets(t *testing.T, path, kind string) (dts []float64, key []bool, end float64) {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "ffprobe", "ffmpeg"), "-v", "error", "-select_streams", kind[:1]+":0",
		"-show_entries", "packet=dts_time,duration_time,flags", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var res struct {
		Packets []struct {
			DtsTime      string `json:"dts_time"`
			DurationTime string `json:"duration_time"`
			Flags        string `json:"flags"`
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Packets {
		d, err1 := strconv.ParseFloat(p.DtsTime, 64)
		l, err2 := strconv.ParseFloat(p.DurationTime, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("ffprobe packet %+v", p)
		}
		dts = append(dts, d)
		key = append(key, strings.Contains(p.Flags, "K"))
		end = d + l
	}
	return dts, key, end
}
