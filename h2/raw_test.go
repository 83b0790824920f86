package h2

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// A raw client: frames written by hand over net.Pipe to a Server's
// ServeConn, and the server's frames read back, for what a well-behaved
// client never does.

type rawClient struct {
	t      *testing.T
	nc     net.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	hbuf   bytes.Buffer
	frames chan frame // closed when the connection ends
	served chan struct{}
}

// frame is a server's frame, copied out of the Framer's buffer.
type frame struct {
	typ    http2.FrameType
	flags  http2.Flags
	stream uint32
	data   []byte // DATA payload
	code   http2.ErrCode
	fields map[string]string // HEADERS
	inc    uint32
	last   uint32 // GOAWAY's last stream
}

// newRawClient serves h on one end of a pipe and writes the client's
// preface and settings on the other. read: whether the client reads the
// server's frames at all.
func newRawClient(t *testing.T, s *Server, h http.Handler, read bool, settings ...http2.Setting) *rawClient {
	t.Helper()
	cc, sc := net.Pipe()
	c := &rawClient{t: t, nc: cc, frames: make(chan frame, 10000), served: make(chan struct{})}
	c.fr = http2.NewFramer(cc, cc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	go func() {
		defer close(c.served)
		s.ServeConn(context.Background(), sc, h)
	}()
	t.Cleanup(func() {
		cc.Close()
		select {
		case <-c.served:
		case <-time.After(time.Minute): // generous: an event, not a timing
			t.Error("ServeConn did not return after the client closed")
		}
	})
	if read {
		go c.readLoop()
	}
	if _, err := cc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *rawClient) readLoop() {
	defer close(c.frames)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return
		}
		fr := frame{typ: f.Header().Type, flags: f.Header().Flags, stream: f.Header().StreamID}
		switch f := f.(type) {
		case *http2.DataFrame:
			fr.data = bytes.Clone(f.Data())
		case *http2.RSTStreamFrame:
			fr.code = f.ErrCode
		case *http2.GoAwayFrame:
			fr.code, fr.last = f.ErrCode, f.LastStreamID
		case *http2.WindowUpdateFrame:
			fr.inc = f.Increment
		case *http2.MetaHeadersFrame:
			fr.fields = map[string]string{}
			for _, hf := range f.Fields {
				fr.fields[hf.Name] = hf.Value
			}
		}
		c.frames <- fr
	}
}

// headers sends a request of path on stream id: a GET, or the method that
// extra begins with as ":method", M. end: with END_STREAM.
func (c *rawClient) headers(id uint32, path string, end bool, extra ...string) error {
	c.hbuf.Reset()
	method := "GET"
	if len(extra) >= 2 && extra[0] == ":method" {
		method, extra = extra[1], extra[2:]
	}
	fields := append([]string{":method", method, ":scheme", "https", ":authority", "example.com", ":path", path}, extra...)
	for i := 0; i < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndStream: end, EndHeaders: true})
}

// next returns the server's next frame that match accepts, skipping
// others; ok is false if the connection ended first.
func (c *rawClient) next(match func(frame) bool) (frame, bool) {
	c.t.Helper()
	timeout := time.After(time.Minute) // generous: an event, not a timing
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return frame{}, false
			}
			if match(f) {
				return f, true
			}
		case <-timeout:
			c.t.Fatal("no such frame from the server")
		}
	}
}

func isType(typ http2.FrameType) func(frame) bool {
	return func(f frame) bool { return f.typ == typ }
}

func onStream(typ http2.FrameType, id uint32) func(frame) bool {
	return func(f frame) bool { return f.typ == typ && f.stream == id }
}

// wantGoAway waits for the server's GOAWAY with code, and for the
// connection to end.
func (c *rawClient) wantGoAway(code http2.ErrCode) {
	c.t.Helper()
	f, ok := c.next(isType(http2.FrameGoAway))
	if !ok {
		c.t.Fatalf("the connection ended without a GOAWAY, want %v", code)
	}
	if f.code != code {
		c.t.Fatalf("GOAWAY %v, want %v", f.code, code)
	}
	c.wantEnd()
}

// wantEnd waits for the server to end the connection.
func (c *rawClient) wantEnd() {
	c.t.Helper()
	select {
	case <-c.served:
	case <-time.After(time.Minute): // generous: an event, not a timing
		c.t.Fatal("the server did not end the connection")
	}
}

// wantReset waits for an RST_STREAM of stream id with code.
func (c *rawClient) wantReset(id uint32, code http2.ErrCode) {
	c.t.Helper()
	f, ok := c.next(onStream(http2.FrameRSTStream, id))
	if !ok {
		c.t.Fatalf("the connection ended without resetting stream %d", id)
	}
	if f.code != code {
		c.t.Fatalf("stream %d reset with %v, want %v", id, f.code, code)
	}
}

// wantResponse reads the response of stream id to its end.
func (c *rawClient) wantResponse(id uint32) (status string, body []byte) {
	c.t.Helper()
	for {
		f, ok := c.next(func(f frame) bool { return f.stream == id })
		if !ok {
			c.t.Fatalf("the connection ended before the response of stream %d", id)
		}
		switch f.typ {
		case http2.FrameHeaders:
			status = f.fields[":status"]
		case http2.FrameData:
			body = append(body, f.data...)
		case http2.FrameRSTStream:
			c.t.Fatalf("stream %d reset: %v", id, f.code)
		}
		if f.flags.Has(http2.FlagDataEndStream) {
			return status, body
		}
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })

func netPipe() (net.Conn, net.Conn) { return net.Pipe() }
