package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/rtmp"
)

// Viewer-made paths that once reached the origin as other paths, a query
// or a cut name, with the origin's credentials: each is refused with 400
// before any origin request. A good name reaches the origin as escaped
// segments under its base path; the origin's refusal reaches the viewer as
// a fixed text, and its words only the log.
func TestEdgeSendsOnlyCheckedNamesToOrigins(t *testing.T) {
	const secret = "db-7 token expired, see vault path secret/flv"
	var mu sync.Mutex
	var received []string // RequestURI and origin key of each request
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.RequestURI+" key="+r.Header.Get("X-Origin-Key"))
		mu.Unlock()
		http.Error(w, secret, http.StatusForbidden)
	}))
	defer origin.Close()
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, origin.URL+"/base")
		c.Upstream.Headers = map[string]string{"X-Origin-Key": "k1"}
	})

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(edge.baseURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{
		"/x%2F..%2F..%2Fadmin/y.flv", // once /base/x/../../admin/y.flv
		"/live/a%3Fq%3D1%26.flv",     // once /base/live/a?q=1&.flv
		"/live/x%23.flv",             // once /base/live/x
		"/live/" + strings.Repeat("n", 4096) + ".flv",
	} {
		if status, body := get(path); status != http.StatusBadRequest || !strings.Contains(body, "bad name") {
			t.Errorf("%.40s: %d %q, want 400 bad name", path, status, body)
		}
	}
	status, body := get("/live/ok.flv")
	if status != http.StatusForbidden || strings.Contains(body, "db-7") {
		t.Errorf("the origin's 403: the viewer got %d %q, want 403 without the origin's words", status, body)
	}
	mu.Lock()
	got := strings.Join(received, ", ")
	mu.Unlock()
	if want := "/base/live/ok.flv key=k1"; got != want {
		t.Fatalf("the origin received %q, want only %q", got, want)
	}
	if !strings.Contains(edge.log.String(), "db-7 token") {
		t.Fatalf("the origin's words are not in the log:\n%s", edge.log.String())
	}
}

// An origin's redirect is an origin failure: the edge plays from the next
// origin, and where the redirect points gets nothing, credentials least.
func TestEdgeFollowsNoRedirect(t *testing.T) {
	ingest := startServer(t, Ingest, nil)
	startDemo(t, ingest)
	var contacted atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contacted.Add(1)
		ingest.web.Handler().ServeHTTP(w, r)
	}))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirecting.Close()
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, redirecting.URL, ingest.baseURL())
		c.Upstream.Headers = map[string]string{"X-Origin-Key": "k1"}
	})
	watch(t, edge.playURL("demo")).waitTags(t, 10)
	if n := contacted.Load(); n > 0 {
		t.Fatalf("the redirect was followed: its target got %d requests", n)
	}
	if !strings.Contains(edge.log.String(), "status=302") {
		t.Fatalf("the redirect is not in the edge's log:\n%s", edge.log.String())
	}
}

// A publisher with a name outside the rules is refused, told why, and
// counted; no stream of that name exists.
func TestIngestRefusesBadPublishNames(t *testing.T) {
	ingest := startServer(t, Ingest, nil)
	for _, name := range []string{strings.Repeat("n", 4096), "a%20b", ".hidden"} {
		pub, err := rtmp.Dial(context.Background(), ingest.rtmpURL(name))
		if err == nil {
			pub.Close()
			t.Fatalf("%.20q: publish accepted", name)
		}
		var se *rtmp.StatusError
		if !errors.As(err, &se) || se.Code != "NetStream.Publish.BadName" || !strings.Contains(se.Description, "bad name") {
			t.Errorf("%.20q: %v, want NetStream.Publish.BadName saying why", name, err)
		}
	}
	families := scrape(t, ingest)
	if n, _ := value(families, "flvedge_rtmp_publishes_total", map[string]string{"result": "refused", "reason": "bad_name"}); n != 3 {
		t.Fatalf("%v refusals for bad names counted, want 3", n)
	}
	if n := len(ingest.hub.Streams()); n != 0 {
		t.Fatalf("%d streams in the hub", n)
	}
}
