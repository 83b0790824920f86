//go:build e2e

package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/internal/testutil"
	"github.com/flvedge/flvedge/rtmp"
)

const dashboardFile = "../../deploy/grafana/flvedge.json"

// dashboard is the part of a Grafana dashboard that the test checks.
type dashboard struct {
	UID        string
	Title      string
	Templating struct {
		List []struct {
			Name, Type string
			Query      json.RawMessage // a string, or {"query": "..."}
			Datasource *datasourceRef
		}
	}
	Panels []panel
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *datasourceRef
	GridPos    struct{ X, Y, W, H int }
	Targets    []struct {
		RefID        string
		Expr         string
		LegendFormat string
		Datasource   *datasourceRef
	}
	Panels []panel // a collapsed row's
}

type datasourceRef struct{ Type, UID string }

// promQLUse is what an expression asks of the metrics: selectors with the
// labels they match on, and the labels it groups by.
type promQLUse struct {
	selectors []selector
	grouping  []string
}

type selector struct {
	metric string
	labels []string
}

// promQLToken splits an expression into what matters here: strings and
// bracketed ranges (taken whole, so that their contents are never names),
// names, matching operators and punctuation.
var promQLToken = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|[A-Za-z_:][A-Za-z0-9_:]*|=~|!~|!=|==|\S`)

var (
	promQLName = regexp.MustCompile(`^[A-Za-z_:][A-Za-z0-9_:]*$`)
	// Names that are neither metrics nor labels: aggregations (which may
	// come before their "by"), operators and literals.
	promQLKeywords = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true,
		"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true,
		"count_values": true, "limitk": true, "limit_ratio": true,
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true,
	}
	promQLGrouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
)

func parsePromQL(expr string) promQLUse {
	var use promQLUse
	toks := promQLToken.FindAllString(expr, -1)
	next := func(i int) string {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return ""
	}
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		switch {
		case !promQLName.MatchString(tok):
		case promQLGrouping[tok]:
			if next(i) == "(" {
				for i += 2; i < len(toks) && toks[i] != ")"; i++ {
					if promQLName.MatchString(toks[i]) {
						use.grouping = append(use.grouping, toks[i])
					}
				}
			}
		case promQLKeywords[tok], next(i) == "(": // a function call
		default:
			sel := selector{metric: tok}
			if next(i) == "{" {
				for i += 2; i < len(toks) && toks[i] != "}"; i++ {
					if promQLName.MatchString(toks[i]) && strings.ContainsAny(next(i), "=~!") {
						sel.labels = append(sel.labels, toks[i])
					}
				}
			}
			use.selectors = append(use.selectors, sel)
		}
	}
	return use
}

func TestParsePromQL(t *testing.T) {
	use := parsePromQL(`sum by (class) (rate(a_total{x=~"$x", class=~"4xx|5xx"}[$__rate_interval])) / ignoring (class) group_left () sum(rate(b{y="by (z)"}[5m])) > 0`)
	got := fmt.Sprint(use.selectors, use.grouping)
	if want := "[{a_total [x class]} {b [y]}] [class class]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// labelValuesQuery splits a Grafana variable query label_values(EXPR, LABEL).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)

// legendLabel finds {{label}} in a legend.
var legendLabel = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"instance", "job"}

// TestDashboardMatchesTheMetrics keeps deploy/grafana/flvedge.json on the
// metrics the servers export: it checks the dashboard's form (importable,
// the data source a variable, app and stream variables), its expressions
// with promtool, and that every metric and label they use is in the
// /metrics of a running ingest and edge.
func TestDashboardMatchesTheMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed to import and link the dashboard", d.UID, d.Title)
	}

	// exprs lists every expression with where it is, for the messages.
	type expr struct{ where, expr, legend string }
	var exprs []expr
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type != "query" {
			continue
		}
		// A string, or an object as newer Grafana versions export it.
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q.Query); err != nil {
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
		}
		m := labelValuesQuery.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: %q is not label_values(EXPR, LABEL)", v.Name, q.Query)
		}
		exprs = append(exprs, expr{"variable " + v.Name, m[1], "{{" + m[2] + "}}"})
		if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
			t.Errorf("variable %s: data source %+v, want ${datasource}", v.Name, v.Datasource)
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "instance": "query", "app": "query", "stream": "query"} {
		if vars[name] != typ {
			t.Errorf("variable %s: type %q, want %q", name, vars[name], typ)
		}
	}

	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if ids[p.ID] {
				t.Errorf("%s: the id is taken", where)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: gridPos %+v", where, p.GridPos)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
				t.Errorf("%s: data source %+v, %d queries", where, p.Datasource, len(p.Targets))
			}
			for _, q := range p.Targets {
				if q.Datasource != nil && q.Datasource.UID != "${datasource}" {
					t.Errorf("%s %s: data source %+v", where, q.RefID, q.Datasource)
				}
				exprs = append(exprs, expr{where + " " + q.RefID, q.Expr, q.LegendFormat})
			}
		}
	}
	walk(d.Panels)

	// promtool parses every expression as a recording rule, with Grafana's
	// interval variables replaced (the others are inside label values).
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(strings.ReplaceAll(e.expr, "$__rate_interval", "1m"))
		fmt.Fprintf(&rules, "  - record: dashboard:expr_%d\n    expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testutil.RequireTool(t, "promtool", "prometheus"), "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}

	labels := exportedLabels(t)
	for _, e := range exprs {
		use := parsePromQL(e.expr)
		if len(use.selectors) == 0 {
			t.Errorf("%s: no metric in %q", e.where, e.expr)
		}
		known := slices.Clone(targetLabels)
		for _, sel := range use.selectors {
			have, ok := labels[sel.metric]
			if !ok {
				t.Errorf("%s: metric %s is not in the servers' /metrics", e.where, sel.metric)
				continue
			}
			known = append(known, have...)
			for _, l := range sel.labels {
				if !slices.Contains(have, l) && !slices.Contains(targetLabels, l) {
					t.Errorf("%s: %s has no label %s (it has %v)", e.where, sel.metric, l, have)
				}
			}
		}
		for _, l := range use.grouping {
			if !slices.Contains(known, l) {
				t.Errorf("%s: grouping by %s, which none of its metrics has", e.where, l)
			}
		}
		for _, m := range legendLabel.FindAllStringSubmatch(e.legend, -1) {
			if !slices.Contains(known, m[1]) {
				t.Errorf("%s: the legend names %s, which none of its metrics has", e.where, m[1])
			}
		}
	}
}

// exportedLabels runs an ingest (a demo stream, an RTMP publish, a viewer)
// and an edge pulling from it, and lists the label names of every metric
// family the two export, by family name. Histograms and summaries are also
// listed under their series' names (_bucket, _sum, _count).
func exportedLabels(t *testing.T) map[string][]string {
	ingest := startServer(t, Ingest, nil)
	startDemo(t, ingest)
	pub, err := rtmp.Dial(context.Background(), ingest.rtmpURL("published"))
	if err != nil {
		t.Fatal(err)
	}
	pub.Close()
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, ingest.baseURL())
		c.VOD.Origins = []config.VODOrigin{{Prefix: "/vod", URLs: []string{ingest.baseURL()}}}
		c.VOD.Cache.Dir = t.TempDir()
	})
	watch(t, edge.playURL("demo")).waitTags(t, 5)

	labels := map[string][]string{}
	for _, s := range []*testServer{ingest, edge} {
		for name, f := range scrape(t, s) {
			var names []string
			for _, m := range f.Metric {
				for _, l := range m.Label {
					if !slices.Contains(names, l.GetName()) {
						names = append(names, l.GetName())
					}
				}
			}
			series := []string{name}
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				series = append(series, name+"_bucket", name+"_sum", name+"_count")
			case dto.MetricType_SUMMARY:
				series = append(series, name+"_sum", name+"_count")
			}
			for _, n := range series {
				labels[n] = append(labels[n], names...)
			}
		}
	}
	for name, l := range labels {
		slices.Sort(l)
		labels[name] = slices.Compact(l)
	}
	return labels
}
