package baseline

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/rtmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type testServer struct {
	*Server
	rtmpAddr, httpAddr string
}

func start(t *testing.T, coalesce time.Duration) *testServer {
	t.Helper()
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Coalesce: coalesce, WriteTimeout: 10 * time.Second}
	ingest := &rtmp.Server{Handler: srv, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{}, 2)
	go func() { ingest.Serve(rln); done <- struct{}{} }()
	go func() { srv.Serve(hln); done <- struct{}{} }()
	t.Cleanup(func() {
		ingest.Close()
		srv.Close()
		<-done
		<-done
		http.DefaultClient.CloseIdleConnections()
	})
	return &testServer{Server: srv, rtmpAddr: rln.Addr().String(), httpAddr: hln.Addr().String()}
}

func (ts *testServer) publish(t *testing.T, stream string) *rtmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+ts.rtmpAddr+"/live/"+stream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitLatest waits until the stream's latest GOP starts at ts.
func (ts *testServer) waitLatest(t *testing.T, key string, keyTS uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ts.mu.Lock()
		st := ts.streams[key]
		ts.mu.Unlock()
		if st != nil {
			st.mu.Lock()
			g := st.gop
			ok := g.keyframe && len(g.tags) > 0 && tagTimestamp(g.tags[0]) == keyTS
			st.mu.Unlock()
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no GOP at %d ms within 10 s", keyTS)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func tagTimestamp(b []byte) uint32 {
	return uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
}

var (
	meta, _  = flv.AppendAMF0(nil, "onMetaData", flv.ECMAArray{{Key: "width", Value: 320.0}})
	avcSeq   = []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}
	aacSeq   = []byte{0xaf, 0, 0x12, 0x10}
	keyframe = []byte{0x17, 1, 0, 0, 0, 0x65, 1, 2, 3}
	inter    = []byte{0x27, 1, 0, 0, 0, 0x41, 4, 5}
	aacFrame = []byte{0xaf, 1, 9, 9}
)

// gopTags is one second of stream from a keyframe at ts.
func gopTags(ts uint32) []flv.Tag {
	tags := []flv.Tag{{Type: flv.TagVideo, Timestamp: ts, Data: keyframe}}
	for i := uint32(1); i < 5; i++ {
		tags = append(tags,
			flv.Tag{Type: flv.TagAudio, Timestamp: ts + i*200 - 100, Data: aacFrame},
			flv.Tag{Type: flv.TagVideo, Timestamp: ts + i*200, Data: inter})
	}
	return tags
}

func write(t *testing.T, c *rtmp.Client, tags ...flv.Tag) {
	t.Helper()
	for _, tag := range tags {
		if err := c.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
}

// play opens a viewer and checks the response header.
func play(t *testing.T, ts *testServer, stream string) *flv.Reader {
	t.Helper()
	resp, err := http.Get("http://" + ts.httpAddr + "/live/" + stream + ".flv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" || len(resp.TransferEncoding) != 1 {
		t.Fatalf("status %d, header %v, transfer encoding %v", resp.StatusCode, resp.Header, resp.TransferEncoding)
	}
	r := flv.NewReader(bufio.NewReader(resp.Body))
	if h, err := r.ReadHeader(); err != nil || !h.HasAudio || !h.HasVideo {
		t.Fatalf("FLV header %+v, %v", h, err)
	}
	return r
}

// readAll reads tags up to the end of the response.
func readAll(t *testing.T, r *flv.Reader) []flv.Tag {
	t.Helper()
	var tags []flv.Tag
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			return tags
		}
		if err != nil {
			t.Fatalf("after %d tags: %v", len(tags), err)
		}
		tags = append(tags, tag)
	}
}

func summary(tags []flv.Tag) string {
	var b strings.Builder
	for _, tag := range tags {
		kind := map[uint8]string{flv.TagAudio: "a", flv.TagVideo: "v", flv.TagScript: "s"}[tag.Type]
		switch {
		case tag.Type == flv.TagVideo && tag.Data[0] == 0x17 && tag.Data[1] == 0,
			tag.Type == flv.TagAudio && tag.Data[1] == 0:
			kind += "C"
		case tag.Type == flv.TagVideo && tag.Data[0] == 0x17:
			kind += "K"
		}
		b.WriteString(kind)
		b.WriteString(" ")
	}
	return strings.TrimSpace(b.String())
}

func TestFanOut(t *testing.T) {
	for _, coalesce := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run("coalesce "+coalesce.String(), func(t *testing.T) {
			ts := start(t, coalesce)
			c := ts.publish(t, "cam")
			write(t, c,
				flv.Tag{Type: flv.TagScript, Data: meta},
				flv.Tag{Type: flv.TagVideo, Data: avcSeq},
				flv.Tag{Type: flv.TagAudio, Data: aacSeq})
			write(t, c, gopTags(0)...)
			ts.waitLatest(t, "live/cam", 0)
			first := play(t, ts, "cam")

			write(t, c, gopTags(1000)...)
			ts.waitLatest(t, "live/cam", 1000)
			second := play(t, ts, "cam")
			write(t, c, gopTags(2000)...)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}

			gop := "vK a v a v a v a v"
			// Each viewer gets the configuration, then everything from
			// the latest keyframe when it came.
			if got, want := summary(readAll(t, first)), "s vC aC "+gop+" "+gop+" "+gop; got != want {
				t.Errorf("first viewer:\n got %s\nwant %s", got, want)
			}
			if got, want := summary(readAll(t, second)), "s vC aC "+gop+" "+gop; got != want {
				t.Errorf("second viewer:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	ts := start(t, 0)
	ts.publish(t, "busy")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := rtmp.Dial(ctx, "rtmp://"+ts.rtmpAddr+"/live/busy")
	var se *rtmp.StatusError
	if !errors.As(err, &se) || se.Code != "NetStream.Publish.BadName" {
		t.Errorf("second publisher: %v", err)
	}

	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/live/none.flv", 404},
		{"GET", "/live/busy", 404},
		{"POST", "/live/busy.flv", 405},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+ts.httpAddr+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

// Close ends viewers that wait for tags, and the leak check sees that
// their goroutines are gone.
func TestCloseEndsViewers(t *testing.T) {
	ts := start(t, 0)
	c := ts.publish(t, "idle")
	write(t, c, gopTags(0)...)
	ts.waitLatest(t, "live/idle", 0)
	r := play(t, ts, "idle")
	ts.Server.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := r.ReadTag(); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the viewer still reads 10 s after Close")
		}
	}
}
