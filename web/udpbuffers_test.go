package web

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// A socket left with the small buffers of a host whose sysctls were not
// raised is named in the server's log with what to raise.
func TestWarnSmallUDPBuffers(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetWriteBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	warnSmallUDPBuffers(slog.New(slog.NewTextHandler(&logs, nil)), conn)
	for _, want := range []string{"level=WARN", "net.core.rmem_max", "net.core.wmem_max", "receive_bytes=", "send_bytes=", "wanted_bytes=7340032"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}
}

// A connection whose buffers cannot be read (not a socket) is not warned
// about.
func TestWarnSmallUDPBuffersUnreadable(t *testing.T) {
	var logs bytes.Buffer
	warnSmallUDPBuffers(slog.New(slog.NewTextHandler(&logs, nil)), struct{ net.PacketConn }{})
	if logs.Len() != 0 {
		t.Errorf("logged %q", logs.String())
	}
}
