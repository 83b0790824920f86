package h2

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// Every byte from the client is hostile: each test breaks one rule, or
// floods the server, and sees the connection (or only the stream) end
// with the right code, its resources released.

func TestStreamIDs(t *testing.T) {
	t.Run("even", func(t *testing.T) {
		c := newRawClient(t, &Server{}, okHandler, true)
		c.headers(2, "/", true)
		c.wantGoAway(http2.ErrCodeProtocol)
	})
	t.Run("decreasing", func(t *testing.T) {
		c := newRawClient(t, &Server{}, okHandler, true)
		c.headers(5, "/", true)
		if status, body := c.wantResponse(5); status != "200" || string(body) != "ok" {
			t.Fatalf("%s %q", status, body)
		}
		c.headers(3, "/", true)
		c.wantGoAway(http2.ErrCodeProtocol)
	})
	t.Run("DATA on an idle stream", func(t *testing.T) {
		c := newRawClient(t, &Server{}, okHandler, true)
		c.fr.WriteData(7, true, []byte("x"))
		c.wantGoAway(http2.ErrCodeProtocol)
	})
	t.Run("RST_STREAM on an idle stream", func(t *testing.T) {
		c := newRawClient(t, &Server{}, okHandler, true)
		c.fr.WriteRSTStream(9, http2.ErrCodeCancel)
		c.wantGoAway(http2.ErrCodeProtocol)
	})
}

// TestStreamsBeyondTheLimitAreRefused: a stream over
// MAX_CONCURRENT_STREAMS is refused without a handler.
func TestStreamsBeyondTheLimitAreRefused(t *testing.T) {
	var started atomic.Int32
	release := make(chan struct{})
	c := newRawClient(t, &Server{MaxConcurrentStreams: 2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release
	}), true)
	defer close(release)
	for id := uint32(1); id <= 5; id += 2 {
		c.headers(id, "/", true)
	}
	c.wantReset(5, http2.ErrCodeRefusedStream)
	if n := started.Load(); n > 2 {
		t.Fatalf("%d handlers started, want at most 2", n)
	}
}

// TestHeaderListLimits: a header list over MAX_HEADER_LIST_SIZE gets 431
// without a handler; a header block that never ends (CONTINUATION frames,
// empty so that no list limit is reached) ends the connection.
func TestHeaderListLimits(t *testing.T) {
	t.Run("too large", func(t *testing.T) {
		c := newRawClient(t, &Server{MaxHeaderListSize: 4 << 10}, okHandler, true)
		var big []string
		for i := range 10 {
			big = append(big, "x-big-"+string(rune('a'+i)), strings.Repeat("a", 1000))
		}
		c.headers(1, "/", true, big...)
		if status, _ := c.wantResponse(1); status != "431" {
			t.Fatalf("status %s, want 431", status)
		}
		c.headers(3, "/", true)
		if status, _ := c.wantResponse(3); status != "200" {
			t.Fatalf("next stream: status %s", status)
		}
	})
	t.Run("an HPACK string longer than the list", func(t *testing.T) {
		c := newRawClient(t, &Server{MaxHeaderListSize: 4 << 10}, okHandler, true)
		c.headers(1, "/", true, "x-big", strings.Repeat("a", 8<<10))
		c.wantGoAway(http2.ErrCodeCompression)
	})
	t.Run("CONTINUATION flood", func(t *testing.T) {
		c := newRawClient(t, &Server{}, okHandler, true)
		c.hbuf.Reset()
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}, EndStream: true})
		sent := 0
		for ; sent < 1<<20; sent++ {
			if c.fr.WriteContinuation(1, false, nil) != nil {
				break
			}
		}
		c.wantEnd()
		if sent == 1<<20 {
			t.Fatal("the server read a million empty CONTINUATION frames")
		}
	})
}

// TestRapidReset: streams opened and reset at once, in a loop (CVE-2023-44487),
// cost a bounded number of handlers and end in ENHANCE_YOUR_CALM.
func TestRapidReset(t *testing.T) {
	var started atomic.Int32
	c := newRawClient(t, &Server{MaxConcurrentStreams: 100}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-r.Context().Done()
	}), true)
	for id := uint32(1); id < 100000; id += 2 {
		if c.headers(id, "/", true) != nil || c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			break
		}
	}
	c.wantGoAway(http2.ErrCodeEnhanceYourCalm)
	if n := started.Load(); n > 1000 {
		t.Fatalf("%d handlers started", n)
	}
}

// TestControlFloods: a client that sends frames calling for an answer and
// does not read the answers is cut off once they pile up; one that sends
// empty DATA frames is cut off at a rate.
func TestControlFloods(t *testing.T) {
	for name, send := range map[string]func(c *rawClient) error{
		"PING": func(c *rawClient) error { return c.fr.WritePing(false, [8]byte{1}) },
		"SETTINGS": func(c *rawClient) error {
			return c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 15})
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := newRawClient(t, &Server{}, okHandler, false)
			sent := 0
			for ; sent < 1<<20; sent++ {
				if send(c) != nil {
					break
				}
			}
			c.wantEnd()
			// The bound is maxQueuedControl; a few more may be in flight.
			if sent > 2*maxQueuedControl {
				t.Fatalf("the server took %d frames it could not answer", sent)
			}
		})
	}
	t.Run("empty DATA", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), true)
		c.headers(1, "/", false)
		for range 1 << 20 {
			if c.fr.WriteData(1, false, nil) != nil {
				break
			}
		}
		c.wantGoAway(http2.ErrCodeEnhanceYourCalm)
	})
}

// TestWindowUpdates: an increment of 0 and a window past 2^31-1 are
// errors of the connection or of the stream they are sent on.
func TestWindowUpdates(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	blocked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-release
	})
	t.Run("connection overflow", func(t *testing.T) {
		c := newRawClient(t, &Server{}, okHandler, true)
		c.fr.WriteWindowUpdate(0, 1<<31-1)
		c.wantGoAway(http2.ErrCodeFlowControl)
	})
	t.Run("connection zero", func(t *testing.T) {
		c := newRawClient(t, &Server{}, okHandler, true)
		c.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 0, 0})
		c.wantGoAway(http2.ErrCodeProtocol)
	})
	t.Run("stream overflow", func(t *testing.T) {
		c := newRawClient(t, &Server{}, blocked, true)
		c.headers(1, "/", true)
		c.next(onStream(http2.FrameHeaders, 1))
		c.fr.WriteWindowUpdate(1, 1<<31-1)
		c.wantReset(1, http2.ErrCodeFlowControl)
	})
	t.Run("stream zero", func(t *testing.T) {
		c := newRawClient(t, &Server{}, blocked, true)
		c.headers(1, "/", true)
		c.next(onStream(http2.FrameHeaders, 1))
		c.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 1, []byte{0, 0, 0, 0})
		c.wantReset(1, http2.ErrCodeProtocol)
	})
	t.Run("SETTINGS overflow", func(t *testing.T) {
		c := newRawClient(t, &Server{}, blocked, true)
		c.headers(1, "/", true)
		c.next(onStream(http2.FrameHeaders, 1))
		c.fr.WriteWindowUpdate(1, 1<<31-1-65535)
		c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65536})
		c.wantGoAway(http2.ErrCodeFlowControl)
	})
}

func TestClientPushPromise(t *testing.T) {
	c := newRawClient(t, &Server{}, okHandler, true)
	c.headers(1, "/", false)
	c.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: []byte{0x82}, EndHeaders: true})
	c.wantGoAway(http2.ErrCodeProtocol)
}

// TestIgnoredFrames: PRIORITY and frames of unknown types change nothing.
func TestIgnoredFrames(t *testing.T) {
	c := newRawClient(t, &Server{}, okHandler, true)
	c.fr.WriteRawFrame(0xfa, 0, 0, []byte("whatever"))
	c.fr.WritePriority(1, http2.PriorityParam{StreamDep: 0, Weight: 200})
	c.headers(1, "/", false)
	c.fr.WriteRawFrame(0xfb, 0xff, 1, nil)
	c.fr.WriteData(1, true, nil)
	if status, body := c.wantResponse(1); status != "200" || string(body) != "ok" {
		t.Fatalf("%s %q", status, body)
	}
}

// TestStalledClientIsCutOff: a client that stops reading ends its
// connection at the write timeout, and the handler's Write fails.
func TestStalledClientIsCutOff(t *testing.T) {
	failed := make(chan error, 1)
	c := newRawClient(t, &Server{WriteTimeout: 100 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				failed <- err
				return
			}
		}
	}), false, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	c.fr.WriteWindowUpdate(0, 1<<30)
	c.headers(1, "/", true)
	c.wantEnd()
	select {
	case err := <-failed:
		if err == nil {
			t.Fatal("no error")
		}
	case <-time.After(time.Minute): // generous: an event, not a timing
		t.Fatal("the handler's Write did not fail")
	}
}

// TestFlowControl: with a small client window, data arrive as the client
// opens it; a stream whose window is spent holds no other back; a SETTINGS
// that makes windows negative stops a stream until updates bring it back
// over zero.
func TestFlowControl(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 100)
	c := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}), true, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100})
	c.headers(1, "/", true) // stalled: never updated
	c.headers(3, "/", true)
	got := map[uint32]int{}
	for got[1] < 100 || got[3] < 100 {
		f, _ := c.next(isType(http2.FrameData))
		got[f.stream] += len(f.data)
	}
	if got[1] != 100 || got[3] != 100 {
		t.Fatalf("before updates: %v, want 100 each", got)
	}
	// Stream 3's window goes below zero, then back to 50.
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 50})
	c.fr.WriteWindowUpdate(3, 100)
	var received []byte
	for {
		f, _ := c.next(onStream(http2.FrameData, 3))
		received = append(received, f.data...)
		if len(received) == 50 {
			break
		}
	}
	c.fr.WriteWindowUpdate(3, 1000)
	for {
		f, _ := c.next(onStream(http2.FrameData, 3))
		received = append(received, f.data...)
		if f.flags.Has(http2.FlagDataEndStream) {
			break
		}
	}
	if len(received) != 900 {
		t.Fatalf("stream 3: %d bytes after the first 100, want 900", len(received))
	}
}

// TestTimeouts: a client that does not send its preface in time, and a
// connection without streams for the idle timeout, are ended.
func TestTimeouts(t *testing.T) {
	t.Run("preface", func(t *testing.T) {
		s := &Server{ReadHeaderTimeout: 50 * time.Millisecond}
		cc, sc := netPipe()
		defer cc.Close()
		go func() { // the server's SETTINGS
			var b [256]byte
			for {
				if _, err := cc.Read(b[:]); err != nil {
					return
				}
			}
		}()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ServeConn(t.Context(), sc, okHandler)
		}()
		select {
		case <-done:
		case <-time.After(time.Minute): // generous: an event, not a timing
			t.Fatal("a connection without a preface was kept")
		}
	})
	t.Run("idle", func(t *testing.T) {
		c := newRawClient(t, &Server{IdleTimeout: 50 * time.Millisecond}, okHandler, true)
		c.headers(1, "/", true)
		c.wantResponse(1)
		c.wantGoAway(http2.ErrCodeNo)
	})
	t.Run("bad preface", func(t *testing.T) {
		s := &Server{}
		cc, sc := netPipe()
		defer cc.Close()
		go func() { cc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) }()
		go func() {
			var b [256]byte
			for {
				if _, err := cc.Read(b[:]); err != nil {
					return
				}
			}
		}()
		s.ServeConn(t.Context(), sc, okHandler) // returns
	})
}

// TestGoAwayOnShutdown: Shutdown tells the client the last stream it
// opened; that stream runs on, and the connection ends after it.
func TestGoAwayOnShutdown(t *testing.T) {
	release := make(chan struct{})
	s := &Server{}
	c := newRawClient(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("done"))
	}), true)
	c.headers(1, "/", true)
	c.fr.WritePing(false, [8]byte{}) // the stream has opened when its ack comes
	c.next(isType(http2.FramePing))
	s.Shutdown()
	c.next(isType(http2.FrameGoAway))
	c.headers(3, "/", true) // after the GOAWAY: ignored
	close(release)
	if status, body := c.wantResponse(1); status != "200" || string(body) != "done" {
		t.Fatalf("%s %q", status, body)
	}
	c.wantEnd()
}

// TestContentLengthMismatch: a body longer or shorter than its
// Content-Length is malformed: the stream is reset, and the handler's Read
// fails rather than end as if the body were whole.
func TestContentLengthMismatch(t *testing.T) {
	for name, data := range map[string]string{"longer": "abcdefgh", "shorter": "abc"} {
		t.Run(name, func(t *testing.T) {
			read := make(chan error, 1)
			c := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				read <- err
			}), true)
			c.headers(1, "/", false, "content-length", "5")
			c.fr.WriteData(1, true, []byte(data))
			c.wantReset(1, http2.ErrCodeProtocol)
			if err := <-read; err == nil {
				t.Fatal("the handler read the malformed body to its end")
			}
		})
	}
}

// TestShortBodyIsNeverComplete: the END_STREAM of a body shorter than its
// Content-Length does not mark the body complete. The stream's reset
// follows once the frame's lock is let go, and in between a handler
// waiting in Read would otherwise take the end for the whole body, as
// TestContentLengthMismatch saw on a busy machine.
func TestShortBodyIsNeverComplete(t *testing.T) {
	c := &conn{}
	st := &stream{c: c, id: 1}
	st.body = &body{st: st, declared: 5, received: 3, wake: make(chan struct{}, 1)}
	if err := c.endBodyLocked(st); err == nil {
		t.Fatal("a short body ended without a stream error")
	}
	if st.body.eof {
		t.Fatal("a short body was marked complete before its reset")
	}
}

// TestSettingsFlood: SETTINGS frames, each of which may touch every
// stream, are bounded in rate even from a client that reads the acks.
func TestSettingsFlood(t *testing.T) {
	c := newRawClient(t, &Server{}, okHandler, true)
	for i := range 1000 {
		if c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(i)}) != nil {
			break
		}
	}
	c.wantGoAway(http2.ErrCodeEnhanceYourCalm)
}

// TestNothingFollowsAReset: a handler that answers after the client
// reset its stream sends nothing on it.
func TestNothingFollowsAReset(t *testing.T) {
	reset := make(chan struct{})
	answered := make(chan struct{})
	c := newRawClient(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		<-reset
		w.Write([]byte("too late"))
		w.(http.Flusher).Flush()
		close(answered)
	}), true)
	c.headers(1, "/", true)
	c.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	close(reset)
	<-answered
	c.fr.WritePing(false, [8]byte{7}) // its ack comes after anything queued before
	for {
		f, ok := c.next(func(frame) bool { return true })
		if !ok {
			t.Fatal("the connection ended")
		}
		if f.stream == 1 {
			t.Fatalf("a %v frame on the stream the client reset", f.typ)
		}
		if f.typ == http2.FramePing {
			return
		}
	}
}
