package web

import (
	"bytes"
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/flvedge/flvedge/flv"
)

// TestCloseCutsStalledHTTP2Clients: Close cuts HTTP/2 connections at
// once even when their clients have stopped reading and the server's
// writes to them wait on full TCP buffers. crypto/tls's Close would
// otherwise try to send its close_notify alert after the records that
// package h2's writer holds (tlsbatch.go), and wait up to 5 s for each
// such connection in turn, http.Server.Close closing them one by one.
func TestCloseCutsStalledHTTP2Clients(t *testing.T) {
	const clients = 8
	s := newSite(t, nil)
	s.publish("live", "a")
	s.gop(1)
	for range clients {
		stalledHTTP2Viewer(t, s.srv.HTTPSAddr().String(), "/live/a.flv")
	}
	st := s.hub.Lookup("live", "a")
	deadline := time.Now().Add(time.Minute) // generous: a condition, not a timing
	for st.Viewers() < clients {
		if time.Now().After(deadline) {
			t.Fatalf("%d viewers joined, want %d", st.Viewers(), clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Tags until every connection's write waits on its client. They are
	// small and come one at a time, so that the write that waits is
	// one of a tag or two, which batchConn holds whole: Release writes it.
	tag := append([]byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41}, make([]byte, 8<<10)...)
	for writesWaiting() < clients {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections' writes wait, want %d", writesWaiting(), clients)
		}
		s.write(flv.TagVideo, tag)
		s.ts += 40
		time.Sleep(time.Millisecond) // a pace, not a synchronisation
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		s.srv.Close()
	}()
	select {
	case <-closed:
	case <-time.After(8 * time.Second): // generous for a Close; it took 5 s a stalled connection
		t.Fatal("Close waited on the stalled connections")
	}
}

// writesWaiting counts the goroutines in package h2's writes to the
// connection: those of stalled HTTP/2 connections.
func writesWaiting() int {
	buf := make([]byte, 8<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "h2.(*conn).flush(")
}

// stalledHTTP2Viewer asks for path over HTTP/2 with windows that never
// close, and then reads nothing: its receive buffer is small, so that the
// server's writes soon wait.
func stalledHTTP2Viewer(t *testing.T, addr, path string) {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) // loopback, a test certificate
	if err := tc.Handshake(); err != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatalf("handshake: %v, ALPN %q", err, tc.ConnectionState().NegotiatedProtocol)
	}
	if _, err := tc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(tc, tc)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", addr}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteWindowUpdate(0, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}
