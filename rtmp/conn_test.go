package rtmp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/url"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

func TestConnectReplies(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.command(0, "connect", 1, flv.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}})

	want := []struct {
		typ uint8
		val []byte
	}{
		{TypeWindowAckSize, hexb("002625a0")},
		{TypeSetPeerBandwidth, hexb("002625a0 02")},
		{TypeSetChunkSize, hexb("00001000")},
	}
	for _, w := range want {
		m := c.read()
		if m.Type != w.typ || !bytes.Equal(m.Payload, w.val) || m.CSID != 2 || m.StreamID != 0 {
			t.Fatalf("got type %d payload %x on csid %d, want type %d payload %x on csid 2", m.Type, m.Payload, m.CSID, w.typ, w.val)
		}
	}
	m, vals := c.expectCommand("_result")
	if m.StreamID != 0 || len(vals) != 4 || vals[1] != 1.0 {
		t.Fatalf("connect result %v on stream %d", vals, m.StreamID)
	}
	props, info := vals[2].(flv.Object), vals[3].(flv.Object)
	if objString(props, "fmsVer") == "" {
		t.Error("no fmsVer")
	}
	if v, _ := props.Get("capabilities"); v != 31.0 {
		t.Errorf("capabilities %v", v)
	}
	if objString(info, "level") != "status" || objString(info, "code") != "NetConnection.Connect.Success" || objString(info, "description") == "" {
		t.Errorf("connect info %v", info)
	}
	if v, _ := info.Get("objectEncoding"); v != 0.0 {
		t.Errorf("objectEncoding %v", v)
	}

	for i, want := range []float64{1, 2} {
		c.command(0, "createStream", float64(10+i), nil)
		_, vals := c.expectCommand("_result")
		if vals[1] != float64(10+i) || vals[2] != nil || vals[3] != want {
			t.Errorf("createStream result %v, want stream %v", vals, want)
		}
	}
}

func TestPublishSession(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live?token=t1/")
	c.command(0, "releaseStream", 2, nil, "cam1?key=abc&x=1")
	c.command(0, "FCPublish", 3, nil, "cam1?key=abc&x=1")
	if _, vals := c.expectCommand("onFCPublish"); objString(vals[3].(flv.Object), "code") != "NetStream.Publish.Start" {
		t.Errorf("onFCPublish %v", vals)
	}
	id, info := c.publish("cam1?key=abc&x=1")
	if objString(info, "level") != "status" || objString(info, "code") != "NetStream.Publish.Start" {
		t.Fatalf("publish status %v", info)
	}
	sink := ts.rec.next(t)
	req := sink.req
	if req.App != "live" || req.Stream != "cam1" || req.TcURL != "rtmp://127.0.0.1/live?token=t1/" || req.RemoteAddr == nil {
		t.Errorf("request app %q stream %q tcUrl %q remote %v", req.App, req.Stream, req.TcURL, req.RemoteAddr)
	}
	if want := (url.Values{"key": {"abc"}, "x": {"1"}, "token": {"t1/"}}); !reflect.DeepEqual(req.Query, want) {
		t.Errorf("query %v, want %v", req.Query, want)
	}

	meta := flv.Object{{Key: "width", Value: 320.0}, {Key: "height", Value: 240.0}}
	setFrame, _ := flv.AppendAMF0(nil, "@setDataFrame", "onMetaData", meta)
	plain, _ := flv.AppendAMF0(nil, "onMetaData", meta)
	text, _ := flv.AppendAMF0(nil, "onTextData", flv.Object{{Key: "text", Value: "hi"}})
	clear, _ := flv.AppendAMF0(nil, "@clearDataFrame", "onMetaData")
	c.send(
		Message{CSID: 5, Type: TypeDataAMF0, StreamID: id, Payload: setFrame},
		Message{CSID: 5, Type: TypeDataAMF0, StreamID: id, Payload: plain},
		Message{CSID: 5, Type: TypeDataAMF3, StreamID: id, Timestamp: 5, Payload: append([]byte{0}, text...)},
		Message{CSID: 5, Type: TypeDataAMF0, StreamID: id, Payload: clear},
	)
	// An empty message first: dropped, it is no tag.
	c.media(TypeVideo, id, 0, nil)
	video := bytes.Repeat([]byte{0x27, 1, 0, 0, 0}, 2000) // spans chunks
	c.media(TypeVideo, id, 0, []byte{0x17, 0, 0, 0, 0, 1, 2})
	c.media(TypeAudio, id, 0, []byte{0xaf, 0, 0x12, 0x10})
	c.media(TypeVideo, id, 40, video)
	c.media(TypeAudio, id, 23, []byte{0xaf, 1, 9})
	c.media(TypeVideo, id, 0x1000000, []byte{0x27, 1}) // extended timestamp

	tags := sink.waitTags(t, 8)
	want := []flv.Tag{
		{Type: flv.TagScript, Data: plain},
		{Type: flv.TagScript, Data: plain},
		{Type: flv.TagScript, Timestamp: 5, Data: text},
		{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 2}},
		{Type: flv.TagAudio, Data: []byte{0xaf, 0, 0x12, 0x10}},
		{Type: flv.TagVideo, Timestamp: 40, Data: video},
		{Type: flv.TagAudio, Timestamp: 23, Data: []byte{0xaf, 1, 9}},
		{Type: flv.TagVideo, Timestamp: 0x1000000, Data: []byte{0x27, 1}},
	}
	if !reflect.DeepEqual(tags, want) {
		t.Errorf("tags:\n got %v\nwant %v", tags, want)
	}

	c.command(0, "FCUnpublish", 5, nil, "cam1")
	if _, vals := c.expectCommand("onFCUnpublish"); objString(vals[3].(flv.Object), "code") != "NetStream.Unpublish.Success" {
		t.Errorf("onFCUnpublish %v", vals)
	}
	sink.waitClosed(t)
	c.media(TypeVideo, id, 80, []byte{0x27, 1}) // after unpublish: dropped
	c.command(0, "deleteStream", 6, nil, float64(id))
	ts.logs.waitFor(t, "rtmp publish stop", "stream=cam1")
	c.nc.Close()
	ts.logs.waitFor(t, "rtmp connection closed")
	if n := len(sink.snapshot()); n != 8 {
		t.Errorf("%d tags, want 8", n)
	}
}

// Before its publish is accepted a connection is held to the command limit
// for every message; after, media may be as large as MaxMessageSize.
func TestMediaLimitRaisedByPublish(t *testing.T) {
	ts := startServer(t, func(ts *testServer) { ts.MaxCommandSize = 4096 })
	c := dial(t, ts.addr)
	c.connect("live")
	id, _ := c.publish("big")
	sink := ts.rec.next(t)
	keyframe := append([]byte{0x17, 1, 0, 0, 0}, make([]byte, 1<<20)...)
	c.media(TypeVideo, id, 0, keyframe)
	if tags := sink.waitTags(t, 1); len(tags[0].Data) != len(keyframe) {
		t.Errorf("keyframe of %d bytes arrived as %d", len(keyframe), len(tags[0].Data))
	}
	c.command(0, "FCPublish", 4, nil, string(make([]byte, 5000)))
	c.expectClosed()
	ts.logs.waitFor(t, "rtmp connection failed", "exceeds the limit of 4096")

	early := dial(t, ts.addr)
	early.connect("live")
	early.media(TypeVideo, 1, 0, make([]byte, 4097))
	early.expectClosed()
	ts.logs.waitFor(t, "rtmp connection failed", "message of type 9 of 4097 bytes on chunk stream 6 exceeds the limit of 4096")
}

func TestSinkClosedOnDisconnect(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live")
	c.publish("s")
	sink := ts.rec.next(t)
	c.nc.Close()
	sink.waitClosed(t)
}

func TestPublishRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		code     string
		desc     string
		stream   string
		handlerd bool
	}{
		{"status error", &StatusError{Code: "NetStream.Publish.Denied", Description: "bad key"}, "NetStream.Publish.Denied", "bad key", "s", true},
		{"wrapped status error", errors.Join(errors.New("x"), &StatusError{Code: "NetStream.Publish.Denied"}), "NetStream.Publish.Denied", "", "s", true},
		{"other error", errors.New("secret internals"), "NetStream.Publish.BadName", "Publish refused.", "s", true},
		{"empty name", nil, "NetStream.Publish.BadName", "Empty stream name.", "?key=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var called atomic.Bool
			ts := startServer(t, func(ts *testServer) {
				ts.rec.refuse = tc.err
				ts.rec.onPublish = func(*PublishRequest) { called.Store(true) }
			})
			c := dial(t, ts.addr)
			c.connect("live")
			_, info := c.publish(tc.stream)
			if objString(info, "level") != "error" || objString(info, "code") != tc.code || objString(info, "description") != tc.desc {
				t.Errorf("status %v, want error %s %q", info, tc.code, tc.desc)
			}
			c.expectClosed()
			if called.Load() != tc.handlerd {
				t.Errorf("handler called: %v", called.Load())
			}
			ts.logs.waitFor(t, "rtmp publish refused", "remote=127.0.0.1:")
		})
	}
}

func TestNoHandlerRefuses(t *testing.T) {
	ts := startServer(t, func(ts *testServer) { ts.Handler = nil })
	c := dial(t, ts.addr)
	c.connect("live")
	if _, info := c.publish("s"); objString(info, "code") != "NetStream.Publish.BadName" {
		t.Errorf("status %v", info)
	}
	c.expectClosed()
}

func TestPlayRefused(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live")
	c.command(0, "createStream", 2, nil)
	c.expectCommand("_result")
	c.command(1, "play", 3, nil, "s")
	m, vals := c.expectCommand("onStatus")
	info := vals[3].(flv.Object)
	if m.StreamID != 1 || objString(info, "level") != "error" || objString(info, "code") != "NetStream.Play.Failed" {
		t.Errorf("play status %v on stream %d", info, m.StreamID)
	}
	c.expectClosed()
	ts.logs.waitFor(t, "rtmp connection failed", "play is not supported")
}

func TestAMF3CommandAndUnknownCommand(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	p, _ := flv.AppendAMF0([]byte{0}, "connect", 1, flv.Object{{Key: "app", Value: "live"}})
	c.send(Message{CSID: 3, Type: TypeCommandAMF3, Payload: p})
	c.expectCommand("_result")
	c.command(0, "getStreamLength", 7, nil, "s")
	c.command(0, "_checkbw", 8, nil)
	_, info := c.publish("s")
	if objString(info, "code") != "NetStream.Publish.Start" {
		t.Errorf("status %v", info)
	}
	ts.logs.waitFor(t, "rtmp command ignored", "command=getStreamLength")
}

func TestPingAndAcknowledgement(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live")
	c.send(userControl(eventPingRequest, 0xdeadbeef))
	for {
		m := c.read()
		if m.Type == TypeUserControl {
			if !bytes.Equal(m.Payload, hexb("0007 deadbeef")) {
				t.Fatalf("ping response %x", m.Payload)
			}
			break
		}
	}
	// Ask for acknowledgements every 5000 bytes, then send 12000.
	c.send(controlMessage(TypeWindowAckSize, 5000))
	id, _ := c.publish("s")
	for i := range 12 {
		c.media(TypeVideo, id, uint32(i), make([]byte, 1000))
	}
	var acks []uint32
	for len(acks) < 2 {
		if m := c.read(); m.Type == TypeAck {
			acks = append(acks, binary.BigEndian.Uint32(m.Payload))
		}
	}
	if acks[0] < 5000 || acks[1]-acks[0] < 5000 {
		t.Errorf("acknowledgements at %v, want one per 5000 bytes", acks)
	}
}

func TestPublishRequestCloseKicks(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live")
	c.publish("s")
	sink := ts.rec.next(t)
	if err := sink.req.Close(); err != nil {
		t.Fatal(err)
	}
	sink.waitClosed(t)
	c.expectClosed()
}

func TestSinkErrorEndsSession(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live")
	id, _ := c.publish("s")
	sink := ts.rec.next(t)
	sink.mu.Lock()
	sink.fail = errors.New("taken over")
	sink.mu.Unlock()
	c.media(TypeVideo, id, 0, []byte{0x17, 0})
	sink.waitClosed(t)
	c.expectClosed()
	ts.logs.waitFor(t, "rtmp publish stop", "taken over")
}

func TestServerCloseEndsSessions(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live")
	c.publish("s")
	sink := ts.rec.next(t)
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sink.closed:
	default:
		t.Error("Close returned before the Sink was closed")
	}
	c.expectClosed()
	if err := <-ts.done; err != nil {
		t.Errorf("Serve returned %v after Close", err)
	}
	ts.done <- nil // for the cleanup
}

func TestTimeouts(t *testing.T) {
	short := func(ts *testServer) {
		ts.HandshakeTimeout = 200 * time.Millisecond
		ts.IdleTimeout = 300 * time.Millisecond
	}
	t.Run("handshake", func(t *testing.T) {
		ts := startServer(t, short)
		c := dial(t, ts.addr) // a full handshake, but no connect follows
		c.expectClosed()
		ts.logs.waitFor(t, "rtmp connection failed", "timeout")
	})
	t.Run("idle", func(t *testing.T) {
		// Wide margins: under a loaded CI machine a sleep can overrun by
		// hundreds of milliseconds.
		ts := startServer(t, func(ts *testServer) { ts.IdleTimeout = time.Second })
		c := dial(t, ts.addr)
		c.connect("live")
		id, _ := c.publish("s")
		// Traffic keeps the connection alive past the idle timeout...
		for i := range 40 {
			c.media(TypeAudio, id, uint32(i), []byte{0xaf, 1})
			time.Sleep(50 * time.Millisecond)
		}
		// ...and silence ends it, for that reason: an upper bound on when
		// would be a timing a loaded machine misses.
		c.expectClosed()
		ts.logs.waitFor(t, "rtmp connection failed", "timeout")
	})
}

// Once a publisher is streaming, a media message costs no allocation on its
// way from the socket to the Sink.
func TestMediaPathDoesNotAllocate(t *testing.T) {
	counting := &countSink{got: make(chan struct{}, 1)}
	ts := startServer(t, func(ts *testServer) {
		ts.Handler = handlerFunc(func(*PublishRequest) (Sink, error) { return counting, nil })
	})
	c := dial(t, ts.addr)
	c.connect("live")
	id, _ := c.publish("s")
	frame := make([]byte, 3000)
	send := func(n int) {
		for i := range n {
			c.media(TypeVideo, id, uint32(i*40), frame)
			c.media(TypeAudio, id, uint32(i*40), frame[:300])
		}
		<-counting.got
	}
	counting.until.Store(200)
	send(100) // warm up: buffers grow to size
	const n = 1000
	counting.until.Store(200 + 2*n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	send(n)
	runtime.ReadMemStats(&after)
	// The client side allocates nothing per message either; allow a little
	// for the runtime's own background work.
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d allocations for %d messages", allocs, 2*n)
	if allocs > n/10 {
		t.Errorf("%d allocations for %d messages", allocs, 2*n)
	}
}

type handlerFunc func(*PublishRequest) (Sink, error)

func (f handlerFunc) Publish(r *PublishRequest) (Sink, error) { return f(r) }

func TestServeAfterClose(t *testing.T) {
	s := &Server{}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener still open: %v", err)
	}
}

// A listener closed by someone else is an error Serve reports.
func TestServeListenerClosed(t *testing.T) {
	s := &Server{}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.Serve(ln) }()
	ln.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve returned %v, want net.ErrClosed wrapped", err)
	}
}

func TestServeTwoListeners(t *testing.T) {
	ts := startServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- ts.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	c.connect("live")
	c.publish("second")
	ts.rec.next(t)
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("second Serve: %v", err)
	}
}

func TestRequestReconnect(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.connect("live")
	id, _ := c.publish("s")
	c.media(TypeAudio, id, 0, []byte{0xaf, 1})
	ts.rec.next(t)

	ts.RequestReconnect("rtmp://other.example/live", "Server going down.")
	m, vals := c.expectCommand("onStatus")
	if m.StreamID != 0 || len(vals) < 4 {
		t.Fatalf("onStatus on stream %d: %v", m.StreamID, vals)
	}
	info := vals[3].(flv.Object)
	if objString(info, "code") != "NetConnection.Connect.ReconnectRequest" || objString(info, "tcUrl") != "rtmp://other.example/live" {
		t.Fatalf("reconnect request: %v", info)
	}
	// The session goes on until the client leaves.
	c.media(TypeAudio, id, 23, []byte{0xaf, 1})
}

// Connections beyond MaxConns, or beyond MaxConnsPerClient from one
// address, are closed at once with a logged reason; room comes back as
// connections end.
func TestConnectionLimits(t *testing.T) {
	refused := make(chan string, 10)
	ts := startServer(t, func(ts *testServer) {
		ts.MaxConns, ts.MaxConnsPerClient = 3, 2
		ts.Refused = func(limit string) { refused <- limit }
	})
	from := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		nc, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	expectRefused := func(nc net.Conn, limit string) {
		t.Helper()
		waitClosedRaw(t, nc)
		select {
		case got := <-refused:
			if got != limit {
				t.Errorf("refused by %q, want %q", got, limit)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no refusal reported")
		}
	}
	a1, a2 := from("127.0.0.1"), from("127.0.0.1")
	plainHandshake(t, a1)
	plainHandshake(t, a2)
	expectRefused(from("127.0.0.1"), "connections_per_client")
	ts.logs.waitFor(t, "rtmp connection refused", "over 2 connections_per_client (limits.rtmp_connections_per_client)")
	b1 := from("127.0.0.2")
	plainHandshake(t, b1)
	expectRefused(from("127.0.0.3"), "connections")
	ts.logs.waitFor(t, "rtmp connection refused", "over 3 connections (limits.rtmp_connections)")

	a1.Close()
	// Once the server has seen a1 go, there is room for one more from
	// 127.0.0.1.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := ts.Connections()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections 10 s after one of 3 closed", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	plainHandshake(t, from("127.0.0.1"))
}
