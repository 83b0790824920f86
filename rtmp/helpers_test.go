package rtmp

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
	"github.com/flvedge/flvedge/internal/testutil"
)

// recorder is a Handler that keeps every request and every tag.
type recorder struct {
	mu     sync.Mutex
	sinks  []*recordSink
	refuse error // returned by Publish when set
	// onPublish, when set, runs inside Publish.
	onPublish func(*PublishRequest)
	published chan *recordSink
}

func newRecorder() *recorder { return &recorder{published: make(chan *recordSink, 16)} }

func (r *recorder) Publish(req *PublishRequest) (Sink, error) {
	if r.onPublish != nil {
		r.onPublish(req)
	}
	if r.refuse != nil {
		return nil, r.refuse
	}
	s := &recordSink{req: req, closed: make(chan struct{})}
	r.mu.Lock()
	r.sinks = append(r.sinks, s)
	r.mu.Unlock()
	r.published <- s
	return s, nil
}

// next waits for the next accepted publish.
func (r *recorder) next(t *testing.T) *recordSink {
	t.Helper()
	select {
	case s := <-r.published:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no publish within 10 s")
		return nil
	}
}

type recordSink struct {
	req    *PublishRequest
	mu     sync.Mutex
	tags   []flv.Tag
	closes int
	closed chan struct{}
	// fail, when set, is returned by WriteTag.
	fail error
}

func (s *recordSink) WriteTag(t flv.Tag) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closes > 0 {
		panic("WriteTag after Close")
	}
	t.Data = bytes.Clone(t.Data)
	s.tags = append(s.tags, t)
	return s.fail
}

func (s *recordSink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	if s.closes == 1 {
		close(s.closed)
	}
}

func (s *recordSink) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Sink not closed within 10 s")
	}
	time.Sleep(10 * time.Millisecond) // a second Close would show up here
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closes != 1 {
		t.Errorf("Sink closed %d times", s.closes)
	}
}

func (s *recordSink) snapshot() []flv.Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]flv.Tag(nil), s.tags...)
}

// waitTags waits until the sink holds at least n tags.
func (s *recordSink) waitTags(t *testing.T, n int) []flv.Tag {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tags := s.snapshot()
		if len(tags) >= n {
			return tags
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tags after 10 s, want %d", len(tags), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBuffer collects log lines from the server.
type logBuffer struct{ testutil.SyncBuffer }

// waitFor waits until a log line contains all of the parts and returns it.
func (b *logBuffer) waitFor(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for line := range strings.Lines(b.String()) {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type testServer struct {
	*Server
	rec  *recorder
	logs *logBuffer
	addr string
	done chan error
}

// startServer serves on a loopback port until the test ends. configure, if
// given, may change the server and its recorder before serving starts.
func startServer(t *testing.T, configure func(*testServer)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{rec: newRecorder(), logs: &logBuffer{}, addr: ln.Addr().String(), done: make(chan error, 1)}
	ts.Server = &Server{
		Handler: ts.rec,
		Logger:  slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(ts)
	}
	go func() { ts.done <- ts.Serve(ln) }()
	t.Cleanup(func() {
		if err := ts.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-ts.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	return ts
}

// testClient is a minimal publisher built on the package's own chunk layer.
type testClient struct {
	t  *testing.T
	nc net.Conn
	cr *ChunkReader
	cw *ChunkWriter
}

// dial connects and does a plain handshake.
func dial(t *testing.T, addr string) *testClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	c1 := make([]byte, 1+handshakeSize)
	c1[0] = 3
	if _, err := nc.Write(c1); err != nil {
		t.Fatal(err)
	}
	s := make([]byte, 1+2*handshakeSize)
	if _, err := io.ReadFull(nc, s); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(s[1 : 1+handshakeSize]); err != nil { // C2 echoes S1
		t.Fatal(err)
	}
	return &testClient{t: t, nc: nc, cr: NewChunkReader(nc, 0), cw: NewChunkWriter(nc)}
}

func (c *testClient) send(msgs ...Message) {
	c.t.Helper()
	for _, m := range msgs {
		if err := c.cw.WriteMessage(m); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.cw.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testClient) command(streamID uint32, vals ...any) {
	c.t.Helper()
	m, err := commandMessage(csidCommand, streamID, vals...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(m)
}

// read returns the next message, with its payload copied.
func (c *testClient) read() Message {
	c.t.Helper()
	m, err := c.cr.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m.Payload = bytes.Clone(m.Payload)
	return m
}

// expectCommand reads past anything else up to the named command and
// returns its values.
func (c *testClient) expectCommand(name string) (Message, []any) {
	c.t.Helper()
	for {
		m := c.read()
		if m.Type != TypeCommandAMF0 {
			continue
		}
		vals, err := flv.DecodeAMF0(m.Payload)
		if err != nil {
			c.t.Fatal(err)
		}
		if vals[0] == name {
			return m, vals
		}
		c.t.Logf("skipping command %v", vals)
	}
}

// expectClosed waits for the server to close the connection.
func (c *testClient) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, err := c.cr.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("connection still open after 10 s")
		}
		return
	}
}

func (c *testClient) connect(app string) {
	c.t.Helper()
	c.command(0, "connect", 1, flv.Object{
		{Key: "app", Value: app},
		{Key: "type", Value: "nonprivate"},
		{Key: "tcUrl", Value: "rtmp://127.0.0.1/" + app},
	})
	c.expectCommand("_result")
}

// publish runs createStream and publish and returns the stream ID and the
// onStatus info.
func (c *testClient) publish(name string) (uint32, flv.Object) {
	c.t.Helper()
	c.command(0, "createStream", 2, nil)
	_, vals := c.expectCommand("_result")
	id := uint32(vals[3].(float64))
	c.command(id, "publish", 3, nil, name, "live")
	_, vals = c.expectCommand("onStatus")
	return id, vals[3].(flv.Object)
}

func (c *testClient) media(typ uint8, streamID, ts uint32, data []byte) {
	c.t.Helper()
	csid := uint32(6)
	if typ == TypeAudio {
		csid = 4
	}
	c.send(Message{CSID: csid, Type: typ, StreamID: streamID, Timestamp: ts, Payload: data})
}

func objString(o flv.Object, key string) string {
	v, _ := o.Get(key)
	s, _ := v.(string)
	return s
}

// countSink counts tags and signals when the count reaches until.
type countSink struct {
	n     atomic.Int64
	until atomic.Int64
	got   chan struct{}
}

func (s *countSink) WriteTag(flv.Tag) error {
	if s.n.Add(1) == s.until.Load() {
		s.got <- struct{}{}
	}
	return nil
}

func (s *countSink) Close() {}
