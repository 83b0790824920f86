package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// handshake performs the plain RTMP handshake as a client.
func handshake(t *testing.T, c net.Conn) {
	t.Helper()
	c1 := make([]byte, 1536)
	if _, err := c.Write(append([]byte{3}, c1...)); err != nil {
		t.Fatal(err)
	}
	s012 := make([]byte, 1+2*1536)
	if _, err := io.ReadFull(c, s012); err != nil {
		t.Fatalf("reading S0S1S2: %v", err)
	}
	if _, err := c.Write(s012[1 : 1+1536]); err != nil {
		t.Fatal(err)
	}
}

// chunk0 is a type-0 chunk header on chunk stream csid (< 64) for a message
// of the given length and type, followed by payload.
func chunk0(csid byte, length int, msgType byte, payload []byte) []byte {
	b := []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), msgType, 0, 0, 0, 0}
	return append(b, payload...)
}

func setChunkSize(n uint32) []byte {
	return chunk0(2, 4, 1, []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// TestBadInputClosesOnlyThatConnection sends every kind of garbage a server
// meets; each must close that one connection and log it, while a viewer of
// another stream keeps receiving.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	s := startServer(t, Ingest, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	demoDone := make(chan struct{})
	go func() {
		defer close(demoDone)
		runDemo(ctx, s.hub, s.logger)
	}()
	defer func() { cancel(); <-demoDone }()
	waitStream(t, s.playURL("demo"))
	healthy := watch(t, s.playURL("demo"))
	healthy.waitTags(t, 10)

	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(rand.IntN(256))
	}
	cases := []struct {
		name      string
		handshake bool
		send      []byte
	}{
		{"random bytes", false, random},
		{"truncated handshake", false, append([]byte{3}, make([]byte, 700)...)},
		{"wrong version", false, append([]byte{42}, make([]byte, 1536)...)},
		{"huge message length", true, chunk0(3, 0xffffff, 20, make([]byte, 128))},
		{"chunk size 0", true, setChunkSize(0)},
		{"chunk size 2^31", true, setChunkSize(1 << 31)},
		{"unknown chunk stream", true, []byte{0xc5, 1, 2, 3}},
		{"malformed AMF0 connect", true, chunk0(3, 12, 20, []byte{2, 0, 7, 'c', 'o', 'n', 'n', 'e', 'c', 't', 0x0a, 0xff})},
		{"AMF0 nesting bomb", true, chunk0(3, 100, 20, bytes.Repeat([]byte{3}, 100))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.rtmpLn.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.handshake {
				handshake(t, c)
			}
			c.Write(tc.send)
			if !tc.handshake {
				c.(*net.TCPConn).CloseWrite() // the peer is gone mid-handshake
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("server kept the connection open")
			}
		})
	}
	n := healthy.count()
	healthy.waitTags(t, n+20)
	// One line per bad connection, but repeated garbage from one address is
	// logged at a bounded rate: at least the first few must be there.
	if warnings := strings.Count(s.log.String(), "level=WARN"); warnings < 5 {
		t.Fatalf("%d warnings logged for %d bad connections:\n%s", warnings, len(cases), s.log.String())
	}
}
