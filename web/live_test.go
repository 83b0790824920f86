package web

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/relay"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	goleak.VerifyTestMain(m)
}

var (
	avcConfig = []byte{0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f, 0xff}
	aacConfig = []byte{0xaf, 0x00, 0x12, 0x10}
)

func frame(key bool, n byte) []byte {
	if key {
		return []byte{0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65, n}
	}
	return []byte{0x27, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x41, n}
}

// testServer runs the web handler over a hub on loopback, with one publisher
// that the test drives.
type testServer struct {
	t   *testing.T
	hub *relay.Hub
	pub *relay.Publisher
	srv *httptest.Server
	ts  uint32
}

func newTestServer(t *testing.T, grace time.Duration) *testServer {
	t.Helper()
	hub := relay.NewHub(relay.Config{Grace: grace})
	s := &testServer{t: t, hub: hub, srv: httptest.NewServer(NewHandler(&Live{Hub: hub}))}
	t.Cleanup(func() {
		hub.Close()
		s.srv.Close()
	})
	return s
}

func (s *testServer) publish(app, name string) {
	s.t.Helper()
	p, err := s.hub.Publish(app, name, func() {})
	if err != nil {
		s.t.Fatal(err)
	}
	s.pub = p
	meta, _ := flv.AppendAMF0(nil, "onMetaData", flv.ECMAArray{{Key: "videocodecid", Value: 7.0}, {Key: "audiocodecid", Value: 10.0}})
	s.write(flv.TagScript, meta)
	s.write(flv.TagVideo, avcConfig)
	s.write(flv.TagAudio, aacConfig)
}

func (s *testServer) write(tagType uint8, data []byte) {
	s.t.Helper()
	if err := s.pub.WriteTag(flv.Tag{Type: tagType, Timestamp: s.ts, Data: data}); err != nil {
		s.t.Fatal(err)
	}
}

// gop publishes a keyframe and n-1 inter frames, each followed by audio.
func (s *testServer) gop(n int) {
	for i := range n {
		s.write(flv.TagVideo, frame(i == 0, byte(i)))
		s.write(flv.TagAudio, []byte{0xaf, 0x01, byte(i)})
		s.ts += 40
	}
}

func (s *testServer) get(t *testing.T, path string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readTags reads the FLV header and then n tags from r.
func readTags(t *testing.T, r io.Reader, n int) (flv.Header, []flv.Tag) {
	t.Helper()
	fr := flv.NewReader(r)
	h, err := fr.ReadHeader()
	if err != nil {
		t.Fatalf("FLV header: %v", err)
	}
	return h, nextTags(t, fr, n)
}

// nextTags reads the next n tags from fr.
func nextTags(t *testing.T, fr *flv.Reader, n int) []flv.Tag {
	t.Helper()
	var tags []flv.Tag
	for range n {
		tag, err := fr.ReadTag()
		if err != nil {
			t.Fatalf("tag %d: %v", len(tags), err)
		}
		tags = append(tags, tag)
	}
	return tags
}

func TestUnknownStreamIs404(t *testing.T) {
	s := newTestServer(t, 0)
	resp := s.get(t, "/live/nothing.flv")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "not found") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
}

func TestBadNameIs400(t *testing.T) {
	s := newTestServer(t, 0)
	for _, path := range []string{
		"/x%2F..%2F..%2Fadmin/y.flv",
		"/live/a%3Fq%3D1%26.flv",
		"/live/x%23.flv",
		"/live/a%20b.flv",
		"/live/.hidden.flv",
		"/live/" + strings.Repeat("n", relay.MaxNameLen+1) + ".flv",
	} {
		resp := s.get(t, path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "bad name") || len(body) > 200 {
			t.Errorf("%.40s: got %d %q, want 400 saying what is wrong", path, resp.StatusCode, body)
		}
	}
}

func TestBothFiltersIs400(t *testing.T) {
	s := newTestServer(t, 0)
	s.publish("live", "a")
	if resp := s.get(t, "/live/a.flv?only_audio=1&only_video=1"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("got %d", resp.StatusCode)
	}
}

func TestLiveResponseHeaders(t *testing.T) {
	s := newTestServer(t, 0)
	s.publish("live", "a")
	s.gop(2)
	resp := s.get(t, "/live/a.flv", "Origin", "null")
	want := map[string]string{
		"Content-Type":                "video/x-flv",
		"Cache-Control":               "no-cache, no-store",
		"Access-Control-Allow-Origin": "*",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("status %d, transfer encoding %v; want 200 chunked", resp.StatusCode, resp.TransferEncoding)
	}
	readTags(t, resp.Body, 5)

	resp = s.get(t, "/live/a.flv")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("without Origin: Access-Control-Allow-Origin %q, want *", got)
	}
}

func TestHeadHasNoBody(t *testing.T) {
	s := newTestServer(t, 0)
	s.publish("live", "a")
	resp, err := http.Head(s.srv.URL + "/live/a.flv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := http.Head(s.srv.URL + "/live/none.flv"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of unknown stream: %d", resp.StatusCode)
	}
}

func TestPreflightAllowsRange(t *testing.T) {
	s := newTestServer(t, 0)
	req, _ := http.NewRequest(http.MethodOptions, s.srv.URL+"/live/a.flv", nil)
	req.Header.Set("Origin", "https://player.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "range")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "range") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestMidStreamViewerGetsPictureFirst(t *testing.T) {
	s := newTestServer(t, 0)
	s.publish("live", "a")
	s.gop(10)
	s.gop(5) // the viewer joins in the middle of this GOP

	// Nothing is published after the viewer joins: the picture it gets can
	// only come from the window, at once (a bound on the time it took would
	// be a timing a loaded machine misses).
	resp := s.get(t, "/live/a.flv")
	h, tags := readTags(t, resp.Body, 5)
	if !h.HasAudio || !h.HasVideo {
		t.Fatalf("header announces audio %v video %v", h.HasAudio, h.HasVideo)
	}
	checks := []struct {
		name string
		ok   func(flv.Tag) bool
	}{
		{"script", func(t flv.Tag) bool { return t.Type == flv.TagScript }},
		{"AVC sequence header", func(t flv.Tag) bool { return bytes.Equal(t.Data, avcConfig) }},
		{"AAC sequence header", func(t flv.Tag) bool { return bytes.Equal(t.Data, aacConfig) }},
		{"video keyframe", func(t flv.Tag) bool { return t.Type == flv.TagVideo && t.Data[0] == 0x17 && t.Data[1] == 1 }},
		{"audio", func(t flv.Tag) bool { return t.Type == flv.TagAudio }},
	}
	for i, c := range checks {
		if !c.ok(tags[i]) {
			t.Fatalf("tag %d is not the %s: type %d data % x", i, c.name, tags[i].Type, tags[i].Data)
		}
	}
	if tags[3].Timestamp != 400 {
		t.Fatalf("started at keyframe %d ms, want the latest one (400)", tags[3].Timestamp)
	}
}

func TestFiltersCarryOnlyTheirKind(t *testing.T) {
	for _, tc := range []struct {
		query     string
		kind      uint8
		hasAudio  bool
		hasVideo  bool
		firstData []byte
	}{
		{"only_audio=1", flv.TagAudio, true, false, aacConfig},
		{"only_video=1", flv.TagVideo, false, true, avcConfig},
	} {
		t.Run(tc.query, func(t *testing.T) {
			s := newTestServer(t, 0)
			s.publish("live", "a")
			s.gop(5)
			resp := s.get(t, "/live/a.flv?"+tc.query)
			h, tags := readTags(t, resp.Body, 6)
			if h.HasAudio != tc.hasAudio || h.HasVideo != tc.hasVideo {
				t.Fatalf("header: audio %v video %v", h.HasAudio, h.HasVideo)
			}
			_, values, err := flv.ParseScript(tags[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			meta := values[0].(flv.ECMAArray)
			if a, _ := meta.Get("hasAudio"); a != tc.hasAudio {
				t.Fatalf("metadata hasAudio %v", a)
			}
			if v, _ := meta.Get("hasVideo"); v != tc.hasVideo {
				t.Fatalf("metadata hasVideo %v", v)
			}
			if !bytes.Equal(tags[1].Data, tc.firstData) {
				t.Fatalf("first media tag % x, want its sequence header", tags[1].Data)
			}
			for i, tag := range tags[1:] {
				if tag.Type != tc.kind {
					t.Fatalf("tag %d has type %d", i+1, tag.Type)
				}
			}
		})
	}
}

// TestManyViewersReceiveTheSameTags has 50 viewers read while the publisher
// writes; every one must see the same tags with timestamps that never go back.
func TestManyViewersReceiveTheSameTags(t *testing.T) {
	s := newTestServer(t, 0)
	s.publish("live", "a")
	s.gop(3)
	const viewers, gops = 50, 20
	const tagsEach = 3 + 2*3 + gops*2*5 // config, first GOP, then the live GOPs
	results := make([][]flv.Tag, viewers)
	var ready, done sync.WaitGroup
	for i := range viewers {
		resp := s.get(t, "/live/a.flv")
		ready.Add(1)
		done.Go(func() {
			fr := flv.NewReader(resp.Body)
			if _, err := fr.ReadHeader(); err != nil {
				t.Error(err)
			}
			for n := 0; n < tagsEach; n++ {
				if n == 3 {
					ready.Done()
				}
				tag, err := fr.ReadTag()
				if err != nil {
					t.Errorf("viewer %d tag %d: %v", i, n, err)
					return
				}
				results[i] = append(results[i], tag)
			}
		})
	}
	ready.Wait()
	for range gops {
		s.gop(5)
	}
	done.Wait()
	for i, tags := range results {
		if fmt.Sprint(tags) != fmt.Sprint(results[0]) {
			t.Fatalf("viewer %d received a different sequence", i)
		}
		last := [2]uint32{}
		for _, tag := range tags {
			k := 0
			if tag.Type == flv.TagVideo {
				k = 1
			}
			if tag.Timestamp < last[k] {
				t.Fatalf("viewer %d: timestamp back from %d to %d", i, last[k], tag.Timestamp)
			}
			last[k] = tag.Timestamp
		}
	}
}

func TestResponseEndsCleanlyWithTheStream(t *testing.T) {
	s := newTestServer(t, 10*time.Millisecond)
	s.publish("live", "a")
	s.gop(2)
	resp := s.get(t, "/live/a.flv")
	readTags(t, resp.Body, 3)
	s.pub.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("body ended with %v, want a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("response still open after the stream ended")
	}
}

// TestHTTP10ViewerGetsPlainBody checks the framing for clients that do not
// speak chunked encoding.
func TestHTTP10ViewerGetsPlainBody(t *testing.T) {
	s := newTestServer(t, 0)
	s.publish("live", "a")
	s.gop(2)
	conn, err := net.Dial("tcp", s.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /live/a.flv HTTP/1.0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) != 0 {
		t.Fatalf("HTTP/1.0 response is %v", resp.TransferEncoding)
	}
	readTags(t, resp.Body, 5)
}

// TestTierPullIsNotCoalesced: with coalescing far longer than the test, a
// pull by another tier (it sends relay.ViaHeader) still gets each new tag
// as it comes, so that tiers do not add their delays up.
func TestTierPullIsNotCoalesced(t *testing.T) {
	hub := relay.NewHub(relay.Config{})
	live := &Live{Hub: hub}
	live.SetLimits(Limits{Coalesce: time.Hour})
	s := &testServer{t: t, hub: hub, srv: httptest.NewServer(NewHandler(live))}
	t.Cleanup(func() {
		hub.Close()
		s.srv.Close()
	})
	s.publish("live", "a")
	s.gop(3)
	resp := s.get(t, "/live/a.flv", relay.ViaHeader, "shield-1")
	fr := flv.NewReader(resp.Body)
	if _, err := fr.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	next := make(chan flv.Tag)
	go func() {
		defer close(next)
		for {
			tag, err := fr.ReadTag()
			if err != nil {
				return
			}
			next <- tag
		}
	}()
	// The window: metadata, configurations, three frames with audio.
	for range 9 {
		<-next
	}
	for i := range 3 {
		s.write(flv.TagVideo, frame(false, byte(100+i)))
		s.ts += 40
		select {
		case tag := <-next:
			if tag.Data[len(tag.Data)-1] != byte(100+i) {
				t.Fatalf("got frame %d, want %d", tag.Data[len(tag.Data)-1], 100+i)
			}
		case <-time.After(10 * time.Second): // coalescing would hold it an hour
			t.Fatalf("frame %d did not reach the tier's pull: coalesced", 100+i)
		}
	}
	resp.Body.Close()
	for range next {
	}
}

// A forged via entry too long to be a server's ID is dropped: it would go
// on to the origins in the pull's own via header.
func TestViaDropsEntriesTooLongForAnID(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/live/a.flv", nil)
	r.Header.Add(relay.ViaHeader, "edge-a, "+strings.Repeat("x", 100_000)+", edge-b")
	via := viaOf(r)
	if !slices.Equal(via, []string{"edge-a", "edge-b"}) {
		t.Fatalf("via %.80q, want the two IDs", via)
	}
}
