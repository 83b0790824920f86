package rtmp

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// rawDial opens a connection the test writes bytes to by hand.
func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// plainHandshake does a client handshake over a raw connection.
func plainHandshake(t *testing.T, nc net.Conn) {
	t.Helper()
	c0c1 := make([]byte, 1+handshakeSize)
	c0c1[0] = 3
	nc.Write(c0c1)
	s := make([]byte, 1+2*handshakeSize)
	if _, err := io.ReadFull(nc, s); err != nil {
		t.Fatal(err)
	}
	nc.Write(s[1 : 1+handshakeSize])
}

// waitClosedRaw reads until the server closes the connection.
func waitClosedRaw(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("server did not close the connection within 10 s")
		}
	}
}

// goodPublisher publishes on its own connection while bad ones come and go.
type goodPublisher struct {
	c    *testClient
	sink *recordSink
	id   uint32
	ts   uint32
}

func startGoodPublisher(t *testing.T, ts *testServer) *goodPublisher {
	c := dial(t, ts.addr)
	c.connect("live")
	id, _ := c.publish("good")
	return &goodPublisher{c: c, sink: ts.rec.next(t), id: id}
}

// still checks that media still flows.
func (g *goodPublisher) still(t *testing.T) {
	t.Helper()
	n := len(g.sink.snapshot())
	g.ts += 40
	g.c.media(TypeVideo, g.id, g.ts, []byte{0x27, 1, 0, 0, 0, 9})
	g.sink.waitTags(t, n+1)
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	noise := random(8192)
	noise[0] = 0x42 // not version 3
	connect, _ := flv.AppendAMF0(nil, "connect", 1, flv.Object{{Key: "app", Value: "live"}})
	command := func(payload []byte) []byte {
		n := len(payload)
		return cat(hexb("03 000000"), []byte{byte(n >> 16), byte(n >> 8), byte(n)}, hexb("14 00000000"), payload)
	}
	// chunked is a message as a client's chunk writer sends it.
	chunked := func(m Message) []byte {
		var b bytes.Buffer
		cw := NewChunkWriter(&b)
		if err := cw.WriteMessage(m); err != nil {
			t.Fatal(err)
		}
		cw.Flush()
		return b.Bytes()
	}
	// connectWith is a connect whose command object is followed by v, in
	// the given total length: strict arrays of nulls fill it.
	connectWith := func(size int, nested int, array bool) []byte {
		p, _ := flv.AppendAMF0(nil, "connect", 1, flv.Object{{Key: "app", Value: "live"}})
		for range nested {
			p = append(p, hexb("0a 00000001")...)
		}
		n := size - len(p)
		if array {
			n -= 5
			p = append(p, 0x0a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
		p = append(p, bytes.Repeat([]byte{0x05}, n)...)
		return chunked(Message{CSID: csidCommand, Type: TypeCommandAMF0, Payload: p})
	}
	badObject, _ := flv.AppendAMF0(nil, "connect", 1)
	badObject = append(badObject, hexb("03 0003 617070 02 ffff 6c697665")...) // app: a string cut short

	for _, tc := range []struct {
		name      string
		handshake bool   // do a client handshake first
		in        []byte // then send this
		reason    string // found in the log line
	}{
		{"random bytes", false, noise, "unsupported handshake version"},
		{"random bytes after handshake", true, random(8192), "read"},
		{"truncated handshake", false, append([]byte{3}, random(700)...), "handshake: read C1: unexpected EOF"},
		{"no C2", false, append([]byte{3}, random(handshakeSize)...), "handshake: read C2: unexpected EOF"},
		{"16 MiB message", true, hexb("03 000000 ffffff 14 00000000"), "exceeds the limit"},
		{"chunk size 0", true, hexb("02 000000 000004 01 00000000 00000000"), "chunk size 0"},
		{"chunk size 2^31", true, hexb("02 000000 000004 01 00000000 80000000"), "chunk size 2147483648"},
		{"type 3 on unknown chunk stream", true, hexb("c7 01 02 03"), "before any full header"},
		{"malformed AMF0 connect", true, command(badObject), "command"},
		{"truncated connect", true, command(connect[:12]), "command"},
		{"command name not a string", true, command(hexb("00 3ff0000000000000")), "command name"},
		{"AMF3 marker in connect", true, command(cat(connect[:10+9], hexb("11 0a 0b 01"))), "command"},
		// The attack: 8 MB of nulls in a strict array, decoded
		// whole before its name was looked at (RSS 22 -> 423 MB). Refused
		// from its header now: no byte of it is buffered.
		{"8 MB connect of nulls", true, connectWith(8_000_000, 0, true), "message of type 20 of 8000000 bytes on chunk stream 3 exceeds the limit of 65536"},
		{"connect of a strict array over the value budget", true, connectWith(60_000, 0, true), "strict array of 59960 values, over the budget"},
		{"connect of nulls over the value budget", true, connectWith(60_000, 0, false), "more values than the budget"},
		{"connect nested too deep", true, connectWith(1000, 16, true), "nested deeper than 16"},
		{"data message over the command limit", true, chunked(Message{CSID: 5, Type: TypeDataAMF0, Payload: make([]byte, 70_000)}), "exceeds the limit of 65536"},
		{"shared object over the command limit", true, chunked(Message{CSID: 5, Type: 19, Payload: make([]byte, 70_000)}), "exceeds the limit of 65536"},
		{"1 MiB video before any publish", true, chunked(Message{CSID: 6, Type: TypeVideo, Payload: make([]byte, 1<<20)}), "message of type 9 of 1048576 bytes on chunk stream 6 exceeds the limit of 65536"},
		{"publish before connect", true, command(func() []byte {
			p, _ := flv.AppendAMF0(nil, "publish", 1, nil, "s")
			return p
		}()), `\"publish\" before connect`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, nil)
			good := startGoodPublisher(t, ts)

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			nc := rawDial(t, ts.addr)
			if tc.handshake {
				plainHandshake(t, nc)
			}
			// The server may close before it has read everything, failing
			// the write; what counts is what the server does.
			nc.Write(tc.in)
			if strings.HasPrefix(tc.name, "truncated") || strings.HasPrefix(tc.name, "no C2") {
				nc.(*net.TCPConn).CloseWrite()
			}
			waitClosedRaw(t, nc)
			line := ts.logs.waitFor(t, "rtmp connection failed", "remote="+nc.LocalAddr().String())
			if !strings.Contains(line, tc.reason) {
				t.Errorf("log line %q does not say %q", line, tc.reason)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Errorf("server allocated %d bytes for a bad connection", n)
			}

			good.still(t)
			c := dial(t, ts.addr) // and new publishers are still welcome
			c.connect("live")
			if _, info := c.publish("another"); objString(info, "code") != "NetStream.Publish.Start" {
				t.Errorf("publish after bad input: %v", info)
			}
		})
	}
}

// A flood of bad connections from one address stays a few log lines.
func TestBadInputFloodLogBounded(t *testing.T) {
	ts := startServer(t, nil)
	start := time.Now()
	for range 31 {
		nc := rawDial(t, ts.addr)
		nc.Write([]byte{0x16, 3, 1, 0, 0}) // a TLS client hello, say
		waitClosedRaw(t, nc)
		nc.Close()
	}
	// The server logs a connection's end after closing it: wait for the
	// burst's lines. A machine so busy that the test outlasts warnEvery
	// earns a line per interval more, by the limiter's own rule.
	count := func() int { return strings.Count(ts.logs.String(), "rtmp connection failed") }
	deadline := time.Now().Add(time.Minute)
	for count() < warnBurst && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	allowed := warnBurst + int(time.Since(start)/warnEvery)
	if n := count(); n < warnBurst || n > allowed {
		t.Errorf("%d log lines for 31 bad connections, want the burst of %d (at most %d)", n, warnBurst, allowed)
	}
}
