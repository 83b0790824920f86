package h2

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Streams and connections in the states a well-behaved client seldom
// makes (reset, going away, at the limit, stalled) and the frames that
// must or must not follow, over the raw client of raw_test.go.

// TestUnreadResponsesAreBounded: a client that does not read, and sends
// requests whose responses are HEADERS alone (HEAD, here), is cut off once
// those pile up, as for the control frames it provokes: each request is a
// few bytes of HPACK indexes, each response a header block, which would
// otherwise pile up for the write timeout, faster than the bytes received.
func TestUnreadResponsesAreBounded(t *testing.T) {
	c := newRawClient(t, &Server{WriteTimeout: time.Hour}, okHandler, false)
	sent := 0
	for ; sent < 16*maxQueuedControl; sent++ {
		c.hbuf.Reset()
		for _, f := range [][2]string{{":method", "HEAD"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/"}} {
			c.enc.WriteField(hpackField(f[0], f[1]))
		}
		id := uint32(2*sent + 1)
		if c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true}) != nil {
			break
		}
	}
	if sent > 4*maxQueuedControl {
		t.Fatalf("the server took %d requests whose responses it could not send", sent)
	}
	c.wantEnd()
}

func hpackField(name, value string) hpack.HeaderField {
	return hpack.HeaderField{Name: name, Value: value}
}

// TestClientGoAway: a client's GOAWAY gets the server's, with the last
// stream it serves: the streams open run to their ends, a stream opened
// after it gets no handler, and the connection then ends.
func TestClientGoAway(t *testing.T) {
	started := make(chan uint32, 2)
	release := make(chan struct{})
	c := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- 1
		<-release
		w.Write([]byte("done"))
	}), true)
	c.headers(1, "/", true)
	<-started
	c.fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	c.headers(3, "/", true)
	c.fr.WritePing(false, [8]byte{2})
	f, _ := c.next(func(f frame) bool { return f.typ == http2.FrameGoAway || f.typ == http2.FramePing })
	if f.typ != http2.FrameGoAway || f.code != http2.ErrCodeNo || f.last != 1 {
		t.Fatalf("after the client's GOAWAY: %v %v last %d, want the server's GOAWAY NO_ERROR last 1", f.typ, f.code, f.last)
	}
	close(release)
	if status, body := c.wantResponse(1); status != "200" || string(body) != "done" {
		t.Fatalf("%s %q", status, body)
	}
	c.wantEnd()
	select {
	case <-started:
		t.Fatal("the stream opened after the GOAWAYs got a handler")
	default:
	}
}

// TestCancelAndReopenAtTheLimit: a client with all its streams open that
// cancels one and opens another at once (a player switching streams) has
// the new one refused while the cancelled one's handler ends, not its
// whole connection closed; once the handler has ended, it is served.
func TestCancelAndReopenAtTheLimit(t *testing.T) {
	ending := make(chan struct{})
	c := newRawClient(t, &Server{MaxConcurrentStreams: 2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/live" {
			<-r.Context().Done()
			<-ending // what a handler does on its way out
			return
		}
		w.Write([]byte("ok"))
	}), true)
	c.headers(1, "/live", true)
	c.headers(3, "/live", true)
	c.fr.WritePing(false, [8]byte{1}) // the streams have opened when its ack comes
	c.next(isType(http2.FramePing))
	c.fr.WriteRSTStream(3, http2.ErrCodeCancel)
	c.headers(5, "/", true)
	f, ok := c.next(func(f frame) bool { return f.stream == 5 || f.typ == http2.FrameGoAway })
	if !ok || f.typ == http2.FrameGoAway {
		t.Fatalf("the connection ended (%v) on a stream opened as another was cancelled", f.code)
	}
	if f.typ == http2.FrameRSTStream && f.code != http2.ErrCodeRefusedStream {
		t.Fatalf("stream 5 reset with %v", f.code)
	}
	close(ending)
	// The handler of stream 3 ends; a stream opened after its end is served.
	for id := uint32(7); ; id += 2 {
		c.headers(id, "/", true)
		f, _ := c.next(func(f frame) bool { return f.stream == id })
		if f.typ == http2.FrameHeaders {
			break
		}
		if f.code != http2.ErrCodeRefusedStream {
			t.Fatalf("stream %d: %v %v", id, f.typ, f.code)
		}
	}
}

// TestCloseCutsConnections: Server.Close closes every connection at once,
// one whose writer waits on a client that does not read included, and
// those that come after.
func TestCloseCutsConnections(t *testing.T) {
	s := &Server{WriteTimeout: time.Hour}
	c := newRawClient(t, s, okHandler, false)
	s.Close() // the connection is tracked: it has read the client's preface

	c.wantEnd()
	cc, sc := netPipe()
	defer cc.Close()
	s.ServeConn(t.Context(), sc, okHandler) // returns at once
}

// TestTrailersWithPseudoHeaders: trailers carry no pseudo-header (RFC
// 9113, 8.1): such a HEADERS frame resets its stream rather than ending
// the body cleanly.
func TestTrailersWithPseudoHeaders(t *testing.T) {
	read := make(chan error, 1)
	c := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		read <- err
	}), true)
	c.headers(1, "/", false)
	c.fr.WriteData(1, false, []byte("body"))
	c.hbuf.Reset()
	c.enc.WriteField(hpackField(":path", "/other"))
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true})
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("the body ended cleanly with pseudo-headers in its trailers")
		}
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("the handler's Read did not return")
	}
	c.wantReset(1, http2.ErrCodeProtocol)
}

// TestFirstFrameIsSettings: a client's preface ends with SETTINGS (RFC
// 9113, 3.4); a first frame that is a stream error (here a WINDOW_UPDATE
// of 0) is a connection error too, not a stream reset before the preface.
func TestFirstFrameIsSettings(t *testing.T) {
	cc, sc := netPipe()
	c := &rawClient{t: t, nc: cc, frames: make(chan frame, 100), served: make(chan struct{})}
	c.fr = http2.NewFramer(cc, cc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	go func() {
		defer close(c.served)
		(&Server{}).ServeConn(t.Context(), sc, okHandler)
	}()
	defer func() {
		cc.Close()
		<-c.served
	}()
	go c.readLoop()
	cc.Write([]byte(http2.ClientPreface))
	c.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 1, []byte{0, 0, 0, 0})
	c.wantGoAway(http2.ErrCodeProtocol)
}

// TestGoAwayLastStreamNeverGrows: a connection error after a graceful
// GOAWAY sends a second GOAWAY whose last stream is not above the first's
// (RFC 9113, 6.8): a stream ignored in between was not processed, and the
// client must be free to retry it.
func TestGoAwayLastStreamNeverGrows(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := &Server{}
	c := newRawClient(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), true)
	c.headers(1, "/", true)
	c.fr.WritePing(false, [8]byte{1}) // the stream has opened when its ack comes
	c.next(isType(http2.FramePing))
	s.Shutdown()
	if f, _ := c.next(isType(http2.FrameGoAway)); f.last != 1 {
		t.Fatalf("GOAWAY last %d, want 1", f.last)
	}
	c.headers(3, "/", true) // ignored
	c.fr.WriteRawFrame(http2.FramePing, 0, 1, make([]byte, 8))
	f, ok := c.next(isType(http2.FrameGoAway))
	if !ok || f.code != http2.ErrCodeProtocol || f.last > 1 {
		t.Fatalf("second GOAWAY: %v, %v last %d; want PROTOCOL_ERROR, last 1 at most", ok, f.code, f.last)
	}
}

// TestResponseContentLength: a response's body is as long as the
// Content-Length its handler set, or the stream is reset, never ended: a
// client would take a shorter body for the whole (a file that shrank while
// it was sent, an origin gone mid-body). A Write past the length fails
// with http.ErrContentLength and sends nothing.
func TestResponseContentLength(t *testing.T) {
	for _, c := range []struct {
		name, method, length string
		writes               []string
		wantBody             string
		wantReset            bool
		wantWriteErr         error // of the last Write
	}{
		{name: "whole", method: "GET", length: "6", writes: []string{"abc", "def"}, wantBody: "abcdef"},
		{name: "short", method: "GET", length: "10", writes: []string{"abc"}, wantBody: "abc", wantReset: true},
		{name: "nothing written", method: "GET", length: "5", wantReset: true},
		{name: "long", method: "GET", length: "3", writes: []string{"abc", "def"}, wantBody: "abc", wantWriteErr: http.ErrContentLength},
		{name: "large write", method: "GET", length: "3", writes: []string{strings.Repeat("x", 8<<10)}, wantReset: true, wantWriteErr: http.ErrContentLength},
		{name: "HEAD", method: "HEAD", length: "100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var writeErr error
			rc := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", c.length)
				for _, p := range c.writes {
					_, writeErr = w.Write([]byte(p))
				}
			}), true)
			rc.headers(1, "/", true, ":method", c.method)
			var body []byte
			var ended, reset bool
			for !ended && !reset {
				f, ok := rc.next(func(f frame) bool { return f.stream == 1 })
				if !ok {
					t.Fatal("the connection ended before the response did")
				}
				switch f.typ {
				case http2.FrameHeaders:
					if got := f.fields["content-length"]; got != c.length {
						t.Fatalf("content-length %q, want %q", got, c.length)
					}
				case http2.FrameData:
					body = append(body, f.data...)
				case http2.FrameRSTStream:
					if f.code != http2.ErrCodeInternal {
						t.Fatalf("reset with %v, want %v", f.code, http2.ErrCodeInternal)
					}
					reset = true
				}
				ended = f.flags.Has(http2.FlagDataEndStream) && f.typ != http2.FrameRSTStream
			}
			if string(body) != c.wantBody || reset != c.wantReset {
				t.Fatalf("body %q, reset %v; want %q, reset %v", body, reset, c.wantBody, c.wantReset)
			}
			if writeErr != c.wantWriteErr {
				t.Fatalf("last Write: %v, want %v", writeErr, c.wantWriteErr)
			}
		})
	}
}

// TestContentLengthThatCannotBeSent: a Content-Length on a 204, or one
// that is no length, is not sent (a client would refuse the response as
// malformed), and the response ends normally.
func TestContentLengthThatCannotBeSent(t *testing.T) {
	for _, c := range []struct {
		name, length string
		status       int
		body         string
	}{
		{"204", "5", http.StatusNoContent, ""},
		{"not a number", " 3", http.StatusOK, "abc"},
		{"negative", "-1", http.StatusOK, "abc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", c.length)
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
				w.(http.Flusher).Flush()
			}), true)
			rc.headers(1, "/", true)
			f, ok := rc.next(onStream(http2.FrameHeaders, 1))
			if !ok {
				t.Fatal("the connection ended before the response")
			}
			if got, sent := f.fields["content-length"]; sent {
				t.Fatalf("content-length %q sent", got)
			}
			if f.flags.Has(http2.FlagHeadersEndStream) {
				if c.body != "" {
					t.Fatalf("no body, want %q", c.body)
				}
				return
			}
			if _, body := rc.wantResponse(1); string(body) != c.body {
				t.Fatalf("body %q, want %q", body, c.body)
			}
		})
	}
}
