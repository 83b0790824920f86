package app

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/config"
	"github.com/flvedge/flvedge/rtmp"
)

// Beyond limits.streams a publisher is told why and counted; beyond
// limits.rtmp_connections_per_client a connection is closed at accept,
// logged and counted; the stream already there plays on.
func TestIngestLimits(t *testing.T) {
	s := startServer(t, Ingest, func(c *config.Config) {
		c.Limits.Streams = 1
		c.Limits.RTMPConnectionsPerClient = 2
	})
	if _, err := publishRTMP(t, s.rtmpURL("first")); err != nil {
		t.Fatal(err)
	}
	waitStream(t, s.playURL("first"))
	v := watch(t, s.playURL("first"))
	v.waitTags(t, 2)

	_, err := publishRTMP(t, s.rtmpURL("second"))
	var se *rtmp.StatusError
	if !errors.As(err, &se) || se.Description != "server at capacity: 1 streams (limits.streams)" {
		t.Fatalf("a second stream: %v, want refused by limits.streams", err)
	}
	// The refused publisher's connection is gone; the first one and this
	// one make two from 127.0.0.1, and a third is refused at accept.
	deadline := time.Now().Add(10 * time.Second)
	for s.rtmp.Connections() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d RTMP connections 10 s after a refusal, want 1", s.rtmp.Connections())
		}
		time.Sleep(10 * time.Millisecond)
	}
	held, err := net.Dial("tcp", s.rtmpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	handshake(t, held)
	over, err := net.Dial("tcp", s.rtmpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := io.Copy(io.Discard, over); n != 0 || err != nil {
		t.Fatalf("a third connection from one client: read %d bytes, %v; want it closed at once", n, err)
	}
	waitLog(t, s.log, "over 2 connections_per_client (limits.rtmp_connections_per_client)")

	m := scrape(t, s)
	if n, _ := value(m, "flvedge_rtmp_publishes_total", map[string]string{"result": "refused", "reason": "capacity"}); n != 1 {
		t.Errorf("publishes refused for capacity: %v, want 1", n)
	}
	if n, _ := value(m, "flvedge_rtmp_connections_refused_total", map[string]string{"limit": "connections_per_client"}); n != 1 {
		t.Errorf("connections refused per client: %v, want 1", n)
	}
	if n, _ := value(m, "flvedge_rtmp_connections", nil); n != 2 {
		t.Errorf("flvedge_rtmp_connections = %v, want 2", n)
	}
	if n, ok := value(m, "flvedge_window_bytes", nil); !ok || n <= 0 {
		t.Errorf("flvedge_window_bytes = %v, %v", n, ok)
	}
	n := v.count()
	v.waitTags(t, n) // and the viewer's response is still open
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		t.Errorf("the viewer's response ended: %v", v.err)
	}
}

// An edge beyond limits.streams answers a viewer of another stream 503
// with the reason, and asks no origin.
func TestEdgeLimitAnswers503(t *testing.T) {
	ingest := startServer(t, Ingest, nil)
	startDemo(t, ingest)
	edge := startServer(t, Edge, func(c *config.Config) {
		fastUpstream(c, ingest.baseURL())
		c.Limits.Streams = 1
	})
	watch(t, edge.playURL("demo")).waitTags(t, 2)
	resp, err := http.Get(edge.playURL("other"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "server at capacity: 1 streams (limits.streams)") {
		t.Fatalf("a second stream on the edge: %s %q", resp.Status, body)
	}
}
