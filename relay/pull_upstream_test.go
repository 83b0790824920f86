package relay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/buffer"
	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

func TestStreamURLsEscapeEachSegment(t *testing.T) {
	for _, tc := range []struct{ origin, app, name, want string }{
		{"http://o/base", "live", "cam", "http://o/base/live/cam.flv"},
		{"http://o:8080", "live", "cam", "http://o:8080/live/cam.flv"},
		{"http://o/base/", "live", "cam", "http://o/base/live/cam.flv"},
		{"https://o/a%2Fb", "live", "cam", "https://o/a%2Fb/live/cam.flv"},
		{"http://o/base?key=1", "live", "cam", "http://o/base/live/cam.flv?key=1"},
		// Names CheckName refuses, to show that escaping alone keeps each
		// in its segment (dot segments are CheckName's alone).
		{"http://o/base", "x/../../admin", "y", "http://o/base/x%2F..%2F..%2Fadmin/y.flv"},
		{"http://o/base", "live", "a?q=1&", "http://o/base/live/a%3Fq=1&.flv"},
		{"http://o/base", "live", "x#", "http://o/base/live/x%23.flv"},
	} {
		got := streamURLs([]string{tc.origin}, tc.app, tc.name)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("origin %s, %q/%q: %q, want %q", tc.origin, tc.app, tc.name, got, tc.want)
		}
	}
}

// request is what a recording server received.
type request struct {
	uri    string
	header http.Header
}

// recorder is a server that records every request and answers with its
// handler.
type recorder struct {
	mu   sync.Mutex
	reqs []request
	srv  *httptest.Server
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{r.RequestURI, r.Header.Clone()})
		rec.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

// startPuller starts a hub and a puller feeding it, closed when the test
// ends.
func startPuller(t *testing.T, hubConfig Config, cfg PullConfig) (*Hub, *Puller) {
	t.Helper()
	h := NewHub(hubConfig)
	p := newPuller(t, h, cfg)
	t.Cleanup(func() {
		p.Close()
		h.Close()
	})
	return h, p
}

// streamTags sends tags as sendTags does, and keeps the stream open until
// the puller hangs up.
func streamTags(w http.ResponseWriter, r *http.Request, timestamps ...uint32) {
	sendTags(w, timestamps...)
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// waitTagFrom waits until the viewer gets a video frame marked mark (see
// sendTags).
func waitTagFrom(t *testing.T, v *Viewer, mark byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tags, _ := viewerTags(t, v.Cursor)
		for _, tag := range tags {
			if tag.Type == flv.TagVideo && tag.Data[len(tag.Data)-1] == mark {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no frame %d reached the viewer", mark)
}

func TestPullRefusesBadNamesBeforeAskingOrigins(t *testing.T) {
	origin := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	_, p := newTestPuller(t, origin.srv.URL+"/base")
	for _, name := range []string{"x/../../admin", "a?q=1&", "x#", strings.Repeat("n", 1<<20)} {
		_, err := p.Stream(context.Background(), "live", name, nil)
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Status != http.StatusBadRequest || !strings.Contains(ue.Reason, "bad name") {
			t.Errorf("%.20q: %v, want 400 bad name", name, err)
		}
	}
	p.Stream(context.Background(), "live", "cam", nil)
	got := origin.requests()
	if len(got) != 1 || got[0].uri != "/base/live/cam.flv" {
		t.Fatalf("the origin received %v, want only /base/live/cam.flv", got)
	}
}

// An origin's redirect is an origin failure: the pull goes to the next
// origin, and neither the request nor the origin headers reach where the
// redirect points.
func TestPullFollowsNoRedirect(t *testing.T) {
	elsewhere := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { sendTags(w, 0, 40) })
	redirecting := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+r.URL.Path, http.StatusFound)
	})
	good := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { streamTags(w, r, 1000, 1040) })
	_, p := startPuller(t, Config{}, PullConfig{
		Origins: func(string) []string { return []string{redirecting.srv.URL, good.srv.URL} },
		Header:  func() http.Header { return http.Header{"X-Origin-Key": {"k1"}} },
		// The caller's client follows redirects; the Puller's copy must not.
		Client: &http.Client{},
	})
	s, err := p.Stream(context.Background(), "live", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Join(buffer.AllTracks)
	defer v.Leave()
	waitTagFrom(t, v, 1040/40)
	if got := elsewhere.requests(); len(got) > 0 {
		t.Fatalf("the redirect was followed: %s received %v", elsewhere.srv.URL, got)
	}
	if got := redirecting.requests(); len(got) != 1 || got[0].header.Get("X-Origin-Key") != "k1" {
		t.Fatalf("the redirecting origin received %v", got)
	}
}

// The configured origin headers go to configured origins only: a static
// pull's URL may be anyone's.
func TestStaticPullSendsNoOriginHeaders(t *testing.T) {
	source := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { streamTags(w, r, 0, 40) })
	h, p := startPuller(t, Config{}, PullConfig{Header: func() http.Header { return http.Header{"X-Origin-Key": {"k1"}} }})
	if err := p.Keep("live", "mirror", source.srv.URL+"/live/cam.flv"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Lookup("live", "mirror") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the static pull did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := source.requests()
	if len(got) == 0 || got[0].uri != "/live/cam.flv" {
		t.Fatalf("the source received %v", got)
	}
	if key := got[0].header.Get("X-Origin-Key"); key != "" {
		t.Fatalf("a static pull's source received the origin header: %q", key)
	}
	if got[0].header.Get(ViaHeader) == "" {
		t.Fatal("no via header: loops through a static pull go unseen")
	}
}

// An origin's error body reaches the log, clipped and at a bounded rate,
// never the viewer.
func TestOriginBodiesAreNotReflected(t *testing.T) {
	const secret = "db-7 token expired, see vault path secret/flv"
	forbidden := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, secret+strings.Repeat(" more", 1000), http.StatusForbidden)
	})
	var logs testutil.SyncBuffer
	_, p := startPuller(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		PullConfig{Origins: func(string) []string { return []string{forbidden.srv.URL} }})
	const tries = 10
	for range tries {
		_, err := p.Stream(context.Background(), "live", "a", nil)
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Status != http.StatusForbidden {
			t.Fatalf("got %v, want 403", err)
		}
		if ue.Reason != "origin refused the stream: 403 Forbidden" {
			t.Fatalf("the viewer is told %q", ue.Reason)
		}
	}
	log := logs.String()
	lines := strings.Count(log, "origin answered without the stream")
	if lines == 0 || lines >= tries || !strings.Contains(log, "db-7 token") {
		t.Fatalf("%d log lines for %d refusals, want some and fewer (rate-limited), with the body:\n%s", lines, tries, log)
	}
	if strings.Contains(log, "more more more more more more more more more more more") {
		t.Fatalf("the whole body is in the log:\n%s", log)
	}
}

// An origin's password, given in its URL's user information, goes to the
// origin (as Basic authentication) and nowhere else: not in the stream's
// stats (the admin API), not in the log.
func TestOriginPasswordNotShown(t *testing.T) {
	const password = "s3cret-pw"
	origin := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "edge" || pass != password {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/refused.flv") {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		streamTags(w, r, 0, 40)
	})
	withPassword := strings.Replace(origin.srv.URL, "http://", "http://edge:"+password+"@", 1)
	var logs testutil.SyncBuffer
	_, p := startPuller(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		PullConfig{Origins: func(string) []string { return []string{withPassword} }})
	if _, err := p.Stream(context.Background(), "live", "refused", nil); err == nil {
		t.Fatal("the refused stream plays")
	}
	s, err := p.Stream(context.Background(), "live", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if shown := s.Stats().Upstream.Origin; strings.Contains(shown, password) || !strings.Contains(shown, origin.srv.Listener.Addr().String()) {
		t.Errorf("stats show the origin as %q", shown)
	}
	if log := logs.String(); strings.Contains(log, password) || !strings.Contains(log, "403") {
		t.Errorf("the log shows the password, or not the refusal:\n%s", log)
	}
}

// The probe of a down origin (HEAD /) carries no credentials, neither the
// origin headers nor its URL's password, and follows no redirect; any
// answer but 503 finds the origin back, a redirect too.
func TestProbeSendsNoCredentialsAndFollowsNoRedirect(t *testing.T) {
	elsewhere := newRecorder(t, func(http.ResponseWriter, *http.Request) {})
	var up atomic.Bool
	origin := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && up.Load() {
			http.Redirect(w, r, elsewhere.srv.URL+"/", http.StatusFound)
			return
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	withPassword := strings.Replace(origin.srv.URL, "http://", "http://edge:pw@", 1)
	_, p := startPuller(t, Config{}, PullConfig{
		Origins: func(string) []string { return []string{withPassword} },
		Header:  func() http.Header { return http.Header{"X-Origin-Secret": {"k"}} },
	})
	if _, err := p.Stream(context.Background(), "live", "a", nil); err == nil {
		t.Fatal("a busy origin's stream plays")
	}
	if !p.OriginDown(withPassword) {
		t.Fatal("the busy origin is not down")
	}
	up.Store(true)
	for deadline := time.Now().Add(20 * time.Second); p.OriginDown(withPassword); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the probe did not find the origin back")
		}
	}
	probed := false
	for _, req := range origin.requests() {
		if req.uri != "/" {
			continue
		}
		probed = true
		if req.header.Get("Authorization") != "" || req.header.Get("X-Origin-Secret") != "" {
			t.Errorf("the probe carried credentials: %v", req.header)
		}
	}
	if !probed {
		t.Errorf("no probe of / among %v", origin.requests())
	}
	if got := elsewhere.requests(); len(got) != 0 {
		t.Errorf("the redirect was followed: %v", got)
	}
}
