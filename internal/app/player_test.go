//go:build e2e

package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/internal/browsertest"
	"github.com/flvedge/flvedge/web/player"
)

// harnessPage opens each player page URL given as ?page= in an iframe and
// reports its window.playerStats twice: once playback has begun (a frame
// or audio decoded, or an error), and when the page shows what a viewer
// should see, or ?within= seconds later if it never does; with the stream
// list and the library line the page shows. What a viewer should see: an
// error (reported at once), or audio decoded on a page without video, or
// a video playing that has decoded ?frames= more frames, advanced ?advance=
// seconds and shows a latency under ?latency= seconds. Waiting for that
// condition, rather than sampling after a fixed time, lets a loaded
// machine take its time to start, decode and catch up with the live edge.
// It is served from the same origin as the player page, so that it may
// read the frame's window; the player page itself knows nothing of tests.
const harnessPage = `<!doctype html>
<link rel="icon" href="data:,">
<body>
<script>
const q = new URLSearchParams(location.search);
const within = Number(q.get('within')) * 1000;
const frames = Number(q.get('frames'));
const advance = Number(q.get('advance'));
const latency = Number(q.get('latency'));
const results = {};
const pages = q.getAll('page');
const shows = (first, now) => now.errors.length > 0 ||
  (now.hasVideo === false ? now.hasAudio === true && now.audioDecodedBytes > 0 :
    now.state === 'playing' && now.decodedFrames >= first.decodedFrames + frames &&
    now.currentTime >= first.currentTime + advance && now.latency !== null && now.latency < latency);
for (const page of pages) {
  const frame = document.createElement('iframe');
  frame.width = 640;
  frame.height = 480;
  frame.src = page;
  document.body.append(frame);
  const read = () => {
    const stats = frame.contentWindow.playerStats;
    return stats && JSON.parse(JSON.stringify(stats));
  };
  let first = null;
  let since;
  const poll = setInterval(() => {
    if (!first) {
      const stats = read();
      if (!stats || !(stats.decodedFrames > 0 || stats.audioDecodedBytes > 0 || stats.errors.length)) return;
      first = stats;
      since = performance.now();
    }
    const last = read();
    const waited = performance.now() - since;
    if (!shows(first, last) && waited < within) return;
    clearInterval(poll);
    const doc = frame.contentDocument;
    results[page] = {
      first,
      last,
      waitedSeconds: waited / 1000,
      streams: [...doc.querySelectorAll('#stream-rows a')].map((a) => a.getAttribute('href')),
      library: doc.getElementById('library').textContent,
    };
    if (Object.keys(results).length === pages.length) window.testResult = results;
  }, 100);
}
</script>
</body>`

// playerStats is the part of the page's window.playerStats the test reads.
type playerStats struct {
	URL               string
	Live              bool
	State             string
	Latency           *float64
	BitrateKbps       *float64
	Width, Height     int
	HasVideo          *bool
	HasAudio          *bool
	DecodedFrames     int
	AudioDecodedBytes *float64
	CurrentTime       float64
	Errors            []struct{ Type, Detail string }
}

type playerReport struct {
	First, Last   playerStats
	WaitedSeconds float64
	Streams       []string
	Library       string
}

// TestPlayerPageInBrowser opens the player page in headless Chromium on a
// live stream that ffmpeg publishes, twice at once: with both tracks, and
// with only_audio. It reads the figures the page shows.
func TestPlayerPageInBrowser(t *testing.T) {
	browsertest.Require(t)
	if !player.Embedded() {
		t.Fatal("this build has no mpegts.js for the player page: run npm ci in web/player (scripts/test.sh does)")
	}
	s := startServer(t, Ingest, nil)
	publishFFmpeg(t, s.rtmpURL("cam"))
	waitStream(t, s.playURL("cam"))

	// The harness and the server's own handler on one origin.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /harness.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(harnessPage))
	})
	mux.Handle("/", s.web.Handler())
	site := httptest.NewServer(mux)
	defer site.Close()

	// What the page must show, and how long a loaded machine may take to
	// show it once playback has begun: liveSync plays faster until it is
	// near the live edge.
	const frames, advance, latency, within = 30, 2, 3, 30
	both := "/player?url=" + url.QueryEscape("/live/cam.flv")
	audio := both + "&only_audio=1"
	q := url.Values{"page": {both, audio}}
	for k, v := range map[string]int{"frames": frames, "advance": advance, "latency": latency, "within": within} {
		q.Set(k, strconv.Itoa(v))
	}
	// Starting Chromium and the players on a loaded machine takes its
	// time too.
	raw := browsertest.Run(t, site.URL+"/harness.html?"+q.Encode(), 3*time.Minute)
	var reports map[string]playerReport
	if err := json.Unmarshal(raw, &reports); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	t.Logf("page figures: %s", raw)

	r := reports[both]
	last := r.Last
	switch {
	case len(last.Errors) > 0:
		t.Fatalf("the page shows errors: %+v", last.Errors)
	case !last.Live || last.State != "playing":
		t.Errorf("live %v, state %q, want a live stream playing", last.Live, last.State)
	case last.DecodedFrames < r.First.DecodedFrames+frames:
		t.Errorf("frames decoded: %d, then %d %.1f s later", r.First.DecodedFrames, last.DecodedFrames, r.WaitedSeconds)
	case last.CurrentTime < r.First.CurrentTime+advance:
		t.Errorf("playback time went from %.2f s to %.2f s in %.1f s", r.First.CurrentTime, last.CurrentTime, r.WaitedSeconds)
	case last.Latency == nil || *last.Latency < 0 || *last.Latency >= latency:
		t.Errorf("latency shown: %v after %.1f s of play, want under %d s", fmtFloat(last.Latency), r.WaitedSeconds, latency)
	case last.Width != 320 || last.Height != 240 || last.BitrateKbps == nil || *last.BitrateKbps <= 0:
		t.Errorf("resolution %dx%d, bitrate %v", last.Width, last.Height, fmtFloat(last.BitrateKbps))
	}
	if !strings.Contains(r.Library, "/player/mpegts.js") {
		t.Errorf("the page did not load the embedded mpegts.js: %q", r.Library)
	}
	if len(r.Streams) != 1 || r.Streams[0] != both {
		t.Errorf("the stream list links to %q, want only %q", r.Streams, both)
	}

	// Headless Chromium without an audio device may not advance the clock
	// of an audio-only element: what counts is the audio decoded.
	a := reports[audio].Last
	switch {
	case len(a.Errors) > 0:
		t.Fatalf("only_audio: the page shows errors: %+v", a.Errors)
	case !strings.Contains(a.URL, "only_audio=1"):
		t.Errorf("only_audio: the page played %s", a.URL)
	case a.HasVideo == nil || *a.HasVideo || a.HasAudio == nil || !*a.HasAudio:
		t.Errorf("only_audio: the player reports video %v, audio %v", fmtBool(a.HasVideo), fmtBool(a.HasAudio))
	case a.DecodedFrames != 0 || a.Width != 0:
		t.Errorf("only_audio: %d video frames decoded, width %d", a.DecodedFrames, a.Width)
	case a.AudioDecodedBytes == nil || *a.AudioDecodedBytes <= 0:
		t.Errorf("only_audio: audio decoded: %v bytes", fmtFloat(a.AudioDecodedBytes))
	}
}

func fmtFloat(f *float64) any {
	if f == nil {
		return "none"
	}
	return *f
}

func fmtBool(b *bool) any {
	if b == nil {
		return "unknown"
	}
	return *b
}
