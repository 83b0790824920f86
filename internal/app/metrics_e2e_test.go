//go:build e2e

package app

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

func TestMetricsMatchWhatHappened(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) {
		c.Admin.MetricsMaxStreams = 2
		c.Publish.Grace = 5 * time.Second
	})
	publisher := publishFFmpeg(t, s.rtmpURL("a"))
	waitStream(t, s.playURL("a"))
	startDemo(t, s)
	extra, err := s.hub.Publish("live", "z", func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.WriteTag(flv.Tag{Type: flv.TagAudio, Data: []byte{0xaf, 0x00, 0x12, 0x10}})

	// A second publisher of a live stream is refused.
	refused := exec.Command(testutil.RequireTool(t, "ffmpeg", "ffmpeg"), "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
		"-t", "3", "-c:v", "libx264", "-f", "flv", s.rtmpURL("a"))
	refused.Run()

	v1, v2 := record(t, s.playURL("a")), record(t, s.playURL("a"))
	v1.waitBytes(t, 300<<10)
	v2.waitBytes(t, 300<<10)
	families := scrape(t, s)
	stream := map[string]string{"app": "live", "stream": "a"}
	if n, _ := value(families, "flvedge_stream_viewers", stream); n != 2 {
		t.Fatalf("viewers of live/a: %v, want 2", n)
	}
	if n, _ := value(families, "flvedge_rtmp_publishes_total", map[string]string{"result": "refused", "reason": "busy"}); n != 1 {
		t.Fatalf("refused publishes: %v, want 1", n)
	}
	if n, _ := value(families, "flvedge_stream_viewers", map[string]string{"app": "live", "stream": "_other"}); n != 0 {
		t.Fatalf("_other viewers: %v", n)
	}
	if _, ok := value(families, "flvedge_stream_bytes_in_total", map[string]string{"app": "live", "stream": "z"}); ok {
		t.Fatal("a third stream has series of its own past the cap of 2")
	}
	if _, ok := value(families, "flvedge_stream_bytes_in_total", map[string]string{"app": "live", "stream": "_other"}); !ok {
		t.Fatal("no _other series for the stream past the cap")
	}
	if _, ok := value(families, "go_goroutines", nil); !ok {
		t.Fatal("no default collectors")
	}

	// Bytes: what the viewers received, against what the server counted.
	// The publisher stops; within the grace period the stream still
	// exists, nothing more is sent, and the viewers read all that was.
	// What is in flight arrives in its time: the counts must meet, however
	// long a loaded machine takes (a pause in the viewers' reading is no
	// sign that they have it all).
	publisher.Process.Kill()
	var sent, received float64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		received = float64(v1.size() + v2.size())
		families = scrape(t, s)
		sent, _ = value(families, "flvedge_stream_bytes_out_total", stream)
		if sent >= received*0.99 && sent <= received*1.01 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bytes out %v, viewers received %v", sent, received)
		}
	}
	if n, _ := value(families, "flvedge_http_requests_total", map[string]string{"class": "2xx"}); n < 2 {
		t.Fatalf("2xx requests: %v", n)
	}
}

func TestPromtoolAcceptsTheMetrics(t *testing.T) {
	s := startServer(t, Ingest, nil)
	startDemo(t, s)
	resp, err := http.Get(s.adminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cmd := exec.Command(testutil.RequireTool(t, "promtool", "prometheus"), "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
