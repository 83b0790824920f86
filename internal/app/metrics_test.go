package app

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flvedge/flvedge/config"
)

func (s *testServer) adminURL() string { return "http://" + s.web.AdminAddr().String() }

// scrape reads /metrics into families by name.
func scrape(t *testing.T, s *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.adminURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// value finds the sample of a family whose labels include all of want.
func value(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

func TestStatsAPI(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) { c.Admin.Token = "0123456789abcdef" })
	startDemo(t, s)
	v := watch(t, s.playURL("demo"))
	v.waitTags(t, 10)

	var list []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for { // rates are published after each measuring period; a loaded machine may need a few
		getJSON(t, s.adminURL()+"/api/streams", &list)
		if len(list) != 1 || list[0]["fps"].(float64) >= 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(list) != 1 || list[0]["stream"] != "demo" || list[0]["video_codec"] != "avc1" ||
		list[0]["width"] != 320.0 || list[0]["viewers"] != 1.0 || list[0]["fps"].(float64) < 20 {
		t.Fatalf("stats: %v", list)
	}

	del := func(token string) int {
		req, _ := http.NewRequest(http.MethodDelete, s.adminURL()+"/api/streams/live/demo", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := del("wrong-token-wrong-token"); code != http.StatusForbidden {
		t.Fatalf("DELETE with a wrong token: %d", code)
	}
	if code := del("0123456789abcdef"); code != http.StatusNoContent {
		t.Fatalf("DELETE with the token: %d", code)
	}
	resp, err := http.Get(s.adminURL() + "/api/streams/live/none")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown stream: %d", resp.StatusCode)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v\n%s", url, err, body)
	}
}
