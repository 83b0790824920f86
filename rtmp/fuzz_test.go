package rtmp

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/flvedge/flvedge/flv"
)

// FuzzChunkReader feeds arbitrary bytes to the chunk reader: it must never
// panic, never return a message over the limit, and never hold more buffer
// than its budget. Seeds live in testdata/fuzz/FuzzChunkReader too.
func FuzzChunkReader(f *testing.F) {
	f.Add(cat(
		hexb("03 000064 000005 14 01000000"), []byte("hello"),
		hexb("43 00000a 000003 09"), []byte("abc"),
		hexb("83 000005"), []byte("xyz"),
		hexb("c3"), []byte("123"),
	))
	f.Add(cat(
		hexb("04 ffffff 0000c8 09 01000000 01000000"), seq(128),
		hexb("c4 01000000"), seq(72),
		hexb("84 ffffff 00ffffff"), seq(200)[:128],
	))
	f.Add(cat(
		hexb("04 000000 0003e8 09 01000000"), seq(128),
		hexb("02 000000 000004 01 00000000 000001f4"),
		hexb("c4"), seq(500),
		hexb("02 000000 000004 02 00000000 00000004"),
		hexb("00 24 000000 000001 08 00000000 61"),
		hexb("01 ff ff 000000 000001 08 00000000 61"),
	))
	f.Add(cat(hexb("03 000000 010001 14 00000000"), seq(128))) // command over its limit
	f.Add(cat(hexb("03 000000 01ffff 09 00000000"), seq(128))) // video within the media limit
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 17
		cr := NewChunkReader(bytes.NewReader(in), limit)
		for {
			m, err := cr.ReadMessage()
			if err != nil {
				break
			}
			if len(m.Payload) > limit || !isMedia(m.Type) && len(m.Payload) > DefaultMaxCommandSize {
				t.Fatalf("message of type %d of %d bytes past the limit", m.Type, len(m.Payload))
			}
			held := 0
			for _, cs := range cr.streams {
				held += cap(cs.buf)
			}
			if held != cr.buffered || held > cr.maxBuffered {
				t.Fatalf("buffers hold %d bytes, counted %d, budget %d", held, cr.buffered, cr.maxBuffered)
			}
			if len(cr.streams) > maxChunkStreams || cr.partials > maxPartialStreams || cr.partials < 0 {
				t.Fatalf("%d chunk streams, %d partial", len(cr.streams), cr.partials)
			}
		}
	})
}

// FuzzSession runs a whole server connection, past a valid handshake, on
// arbitrary chunk bytes: commands, data and media in any order and shape
// must never panic, and a Sink is closed exactly once whatever happens.
func FuzzSession(f *testing.F) {
	var session bytes.Buffer
	cw := NewChunkWriter(&session)
	add := func(streamID uint32, vals ...any) {
		m, err := commandMessage(csidCommand, streamID, vals...)
		if err != nil {
			f.Fatal(err)
		}
		cw.WriteMessage(m)
	}
	add(0, "connect", 1, flv.Object{{Key: "app", Value: "live?k=1"}, {Key: "tcUrl", Value: "rtmp://h/live"}})
	add(0, "releaseStream", 2, nil, "s")
	add(0, "FCPublish", 3, nil, "s")
	add(0, "createStream", 4, nil)
	add(1, "publish", 5, nil, "s?key=abc", "live")
	meta, _ := flv.AppendAMF0(nil, "@setDataFrame", "onMetaData", flv.Object{{Key: "width", Value: 320.0}})
	cw.WriteMessage(Message{CSID: 5, Type: TypeDataAMF0, StreamID: 1, Payload: meta})
	cw.WriteMessage(Message{CSID: 6, Type: TypeVideo, StreamID: 1, Payload: []byte{0x17, 0, 0, 0, 0}})
	cw.WriteMessage(Message{CSID: 4, Type: TypeAudio, StreamID: 1, Timestamp: 23, Payload: []byte{0xaf, 1, 2}})
	cw.WriteMessage(userControl(eventPingRequest, 7))
	cw.WriteMessage(controlMessage(TypeWindowAckSize, 10))
	add(0, "FCUnpublish", 6, nil, "s")
	add(0, "deleteStream", 7, nil, 1)
	add(1, "play", 8, nil, "s")
	cw.Flush()
	f.Add(session.Bytes())
	f.Add(session.Bytes()[:200])
	// Connects over the decoding budget: too many values, too deep.
	for _, tail := range [][]byte{
		cat(hexb("0a 000007d0"), bytes.Repeat([]byte{0x05}, 2000)),
		cat(bytes.Repeat(hexb("0a 00000001"), 20), []byte{0x05}),
	} {
		var b bytes.Buffer
		p, _ := flv.AppendAMF0(nil, "connect", 1, flv.Object{{Key: "app", Value: "live"}})
		w := NewChunkWriter(&b)
		w.WriteMessage(Message{CSID: csidCommand, Type: TypeCommandAMF0, Payload: append(p, tail...)})
		w.Flush()
		f.Add(b.Bytes())
	}

	handshake := make([]byte, 1+2*handshakeSize)
	handshake[0] = handshakeVersion
	f.Fuzz(func(t *testing.T, in []byte) {
		sink := &fuzzSink{}
		s := &Server{
			Handler: handlerFunc(func(*PublishRequest) (Sink, error) { return sink, nil }),
			Logger:  slog.New(slog.DiscardHandler),
		}
		s.init()
		c := newConn(s, &fuzzConn{r: io.MultiReader(bytes.NewReader(handshake), bytes.NewReader(in))})
		c.close(c.serve())
		if sink.closes > 1 || sink.tags > 0 && sink.closes != 1 {
			t.Fatalf("%d tags, Sink closed %d times", sink.tags, sink.closes)
		}
	})
}

type fuzzSink struct{ tags, closes int }

func (s *fuzzSink) WriteTag(t flv.Tag) error {
	if s.closes > 0 {
		panic("WriteTag after Close")
	}
	if len(t.Data) == 0 {
		panic("empty tag")
	}
	s.tags++
	return nil
}

func (s *fuzzSink) Close() { s.closes++ }

// fuzzConn is a net.Conn that reads the fuzz input and swallows writes.
type fuzzConn struct{ r io.Reader }

var fuzzAddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1935}

func (c *fuzzConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return fuzzAddr }
func (c *fuzzConn) RemoteAddr() net.Addr             { return fuzzAddr }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }
