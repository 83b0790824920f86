package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/h2"
)

// streamFLV serves an endless synthetic stream: a keyframe a second, 25
// frames a second, until the client goes.
func streamFLV(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "video/x-flv")
	w.Write(flv.AppendHeader(nil, false, true))
	w.Write(flv.AppendTag(nil, flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}}))
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		frame := []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41}
		if i%25 == 0 {
			frame[0] = 0x17
		}
		if _, err := w.Write(flv.AppendTag(nil, flv.Tag{Type: flv.TagVideo, Timestamp: uint32(i * 40), Data: frame})); err != nil {
			return
		}
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// protoServers starts an HTTP/1.1+HTTP/2 server (flvedge's own HTTP/2,
// package h2) and an HTTP/3 server of streamFLV, both counting the
// connections they accept in conns.
func protoServers(t *testing.T) (h2URL, h3URL string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(streamFLV))
	hs.EnableHTTP2 = true
	(&h2.Server{}).Configure(hs.Config)
	hs.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	hs.StartTLS()
	t.Cleanup(hs.Close)

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h3 := &http3.Server{
		Handler:   http.HandlerFunc(streamFLV),
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: hs.TLS.Certificates}),
		ConnContext: func(ctx context.Context, _ *quic.Conn) context.Context {
			conns.Add(1)
			return ctx
		},
	}
	go h3.Serve(udp)
	t.Cleanup(func() {
		h3.Close()
		udp.Close()
	})
	return hs.URL + "/live/a.flv", "https://" + udp.LocalAddr().String() + "/live/a.flv", conns
}

// TestViewersOverHTTP2AndHTTP3: each case has servers of its own, so that
// the cases' timed runs go in parallel and the connections each counts are
// its own.
func TestViewersOverHTTP2AndHTTP3(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		proto     string
		h3        bool
		perViewer bool
		perConn   int
		conns     int64 // the first viewer, which checks the URL, and the 5
	}{
		{"h1", false, false, 0, 6},
		{"h2", false, false, 0, 1},
		{"h2", false, true, 0, 6},
		{"h2", false, false, 2, 3},
		{"h3", true, false, 0, 1},
		{"h3", true, true, 0, 6},
		{"h3", true, false, 2, 3},
	} {
		name := fmt.Sprintf("%s/per-viewer=%v/per-conn=%d", c.proto, c.perViewer, c.perConn)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The window opens once every viewer has its first keyframe:
			// what is checked does not depend on its length.
			h2URL, h3URL, conns := protoServers(t)
			url := h2URL
			if c.h3 {
				url = h3URL
			}
			rep, err := Run(context.Background(), Config{URL: url, Proto: c.proto, ConnPerViewer: c.perViewer, ViewersPerConn: c.perConn, Insecure: true, Viewers: 5, Ramp: 100 * time.Millisecond, Duration: 300 * time.Millisecond})
			if err != nil {
				t.Fatalf("%s: %v", c.proto, err)
			}
			if rep.Connections.OK != 5 || rep.Connections.Failed != 0 || rep.TTFK.P50 <= 0 || rep.TimestampErrors != 0 {
				t.Fatalf("%s: %+v", c.proto, rep.Connections)
			}
			if n := conns.Load(); n != c.conns {
				t.Errorf("%s (connection per viewer: %v, viewers per connection: %d): %d connections, want %d", c.proto, c.perViewer, c.perConn, n, c.conns)
			}
		})
	}
}
