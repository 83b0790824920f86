package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/rtmp"
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

// The attack, three at once: connects of 8 MB whose body is a
// strict array of nulls, before any authorization. Each took the ingest
// from 22 to 423 MB of RSS; now each is refused from its header, its
// connection closed and logged, and a viewer of another stream notices
// nothing.
func TestAMF0BombConnectsWhileViewersWatch(t *testing.T) {
	s := startServer(t, Ingest, nil)
	startDemoAt(t, s, s.playURL("demo"))
	healthy := watch(t, s.playURL("demo"))
	healthy.waitTags(t, 10)

	payload, _ := flv.AppendAMF0(nil, "connect", 1, flv.Object{{Key: "app", Value: "live"}})
	n := 8_000_000 - len(payload) - 5
	payload = append(payload, 0x0a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	payload = append(payload, bytes.Repeat([]byte{0x05}, n)...)
	var bomb bytes.Buffer
	cw := rtmp.NewChunkWriter(&bomb)
	if err := cw.WriteMessage(rtmp.Message{CSID: 3, Type: rtmp.TypeCommandAMF0, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	cw.Flush()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range 3 {
		c, err := net.Dial("tcp", s.rtmpLn.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		handshake(t, c)
		wg.Go(func() {
			c.Write(bomb.Bytes()) // fails once the server has closed
		})
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Error("server kept the connection open")
			}
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	// The demo and the viewer allocate a little meanwhile; decoding the
	// bombs allocated over 800 MB each.
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Errorf("server allocated %d bytes for 3 connects of 8 MB", n)
	}
	if lines := strings.Count(s.log.String(), "exceeds the limit of 65536"); lines != 3 {
		t.Errorf("%d log lines say why, want 3:\n%s", lines, s.log.String())
	}
	n = healthy.count()
	healthy.waitTags(t, n+20)
	healthy.mu.Lock()
	defer healthy.mu.Unlock()
	if healthy.err != nil {
		t.Errorf("the viewer's response ended: %v", healthy.err)
	}
}
