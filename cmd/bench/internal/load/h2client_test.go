package load

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestRecvWindow(t *testing.T) {
	start := time.Unix(1000, 0)
	w := recvWindow{size: 1000, last: start}
	if inc := w.consume(500, start); inc != 0 {
		t.Fatalf("half the window consumed: update of %d, want none", inc)
	}
	if inc := w.consume(1, start); inc != 501 {
		t.Fatalf("past half the window: update of %d, want 501", inc)
	}
	if inc := w.consume(10, start.Add(h2UpdateAfter-time.Nanosecond)); inc != 0 {
		t.Fatalf("small and recent: update of %d, want none", inc)
	}
	// Chromium's time_to_buffer_small_window_updates: a slow stream still
	// gives its window back.
	if inc := w.consume(10, start.Add(h2UpdateAfter)); inc != 20 {
		t.Fatalf("5 s after the last update: update of %d, want 20", inc)
	}
	if inc := w.consume(0, start.Add(3*h2UpdateAfter)); inc != 0 {
		t.Fatalf("nothing consumed: update of %d, want none", inc)
	}
}

// rawH2 connects the client to a raw HTTP/2 server, the test, and checks
// the client's preface: it returns the client's connection and the
// server's framer and connection.
func rawH2(t *testing.T) (*h2Conn, *http2.Framer, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })

	c, err := newH2Conn(nc, "example.com", "/live/a.flv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(sc, preface); err != nil || string(preface) != http2.ClientPreface {
		t.Fatalf("preface %q %v", preface, err)
	}
	sfr := http2.NewFramer(sc, sc)
	sfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	settings, ok := mustRead(t, sfr).(*http2.SettingsFrame)
	if !ok {
		t.Fatal("no SETTINGS first")
	}
	for id, want := range map[http2.SettingID]uint32{http2.SettingEnablePush: 0, http2.SettingInitialWindowSize: 6 << 20, http2.SettingMaxConcurrentStreams: 100} {
		if v, ok := settings.Value(id); !ok || v != want {
			t.Errorf("setting %v: %d (sent: %v), want %d", id, v, ok, want)
		}
	}
	if wu, ok := mustRead(t, sfr).(*http2.WindowUpdateFrame); !ok || wu.StreamID != 0 || wu.Increment != 15<<20-65535 {
		t.Fatalf("want the connection's window widened to 15 MiB, got %v", wu)
	}

	if err := sfr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c, sfr, sc
}

// respond sends a response's header.
func respond(t *testing.T, sfr *http2.Framer, id uint32, status string, end bool) {
	t.Helper()
	var hb bytes.Buffer
	hpack.NewEncoder(&hb).WriteField(hpack.HeaderField{Name: ":status", Value: status})
	if err := sfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: end}); err != nil {
		t.Fatal(err)
	}
}

// TestH2ClientWindowUpdates plays one viewer against a raw HTTP/2 server
// that counts the client's WINDOW_UPDATE frames: none until more than half
// the stream window (3 MiB) has come, then one for all of it. A PING after
// the data marks where the client has taken it all: it answers in order.
func TestH2ClientWindowUpdates(t *testing.T) {
	c, sfr, _ := rawH2(t)
	r := &runner{start: time.Now(), clock: new(tagClock)}
	v := new(viewer)
	id, s, err := c.open(v, r)
	if err != nil {
		t.Fatal(err)
	}
	f := mustRead(t, sfr)
	if _, ok := f.(*http2.SettingsFrame); ok { // the ack of the server's
		f = mustRead(t, sfr)
	}
	h, ok := f.(*http2.MetaHeadersFrame)
	if !ok || h.StreamID != id || h.PseudoValue("path") != "/live/a.flv" || h.PseudoValue("authority") != "example.com" || h.PseudoValue("method") != "GET" || !h.StreamEnded() {
		t.Fatalf("request %v", h)
	}
	respond(t, sfr, id, "200", false)

	const frame = 16 << 10
	body := encodeFLV(t, testTags(t, 90_000))
	if len(body) < 3<<20+frame {
		t.Fatalf("clip of %d bytes, too short", len(body))
	}
	sent := 0
	send := func(n int) {
		for end := sent + n; sent < end; sent += frame {
			if err := sfr.WriteData(id, false, body[sent:sent+frame]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// updates sends a PING and returns the client's WINDOW_UPDATEs up to
	// its answer.
	updates := func() []*http2.WindowUpdateFrame {
		if err := sfr.WritePing(false, [8]byte{1}); err != nil {
			t.Fatal(err)
		}
		var got []*http2.WindowUpdateFrame
		for {
			switch f := mustRead(t, sfr).(type) {
			case *http2.WindowUpdateFrame:
				got = append(got, f)
			case *http2.PingFrame:
				if f.IsAck() {
					return got
				}
			}
		}
	}
	send(3 << 20)
	if got := updates(); len(got) != 0 {
		t.Fatalf("after half the stream window (3 MiB): %d WINDOW_UPDATEs, want none", len(got))
	}
	send(frame)
	got := updates()
	if len(got) != 1 || got[0].StreamID != id || got[0].Increment != 3<<20+frame {
		t.Fatalf("past half the stream window: %d WINDOW_UPDATEs (%v), want one for stream %d of %d", len(got), got, id, 3<<20+frame)
	}
	if err := sfr.WriteData(id, true, nil); err != nil {
		t.Fatal(err)
	}
	res := <-s.end
	if res.category != "ended by the server" || v.bytes.Load() != int64(sent) || v.ttfk.Load() == 0 || v.tsErrors.Load() != 0 {
		t.Fatalf("viewer: %q %v, %d bytes of %d, first keyframe %d µs", res.category, res.err, v.bytes.Load(), sent, v.ttfk.Load())
	}
}

func mustRead(t *testing.T, fr *http2.Framer) http2.Frame {
	t.Helper()
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestH2ClientFailures: a stream's end is reported in the categories the
// other protocols' viewers use.
func TestH2ClientFailures(t *testing.T) {
	c, sfr, sc := rawH2(t)
	r := &runner{start: time.Now(), clock: new(tagClock)}
	open := func() (uint32, *h2Stream) {
		id, s, err := c.open(new(viewer), r)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if h, ok := mustRead(t, sfr).(*http2.MetaHeadersFrame); ok && h.StreamID == id {
				return id, s
			}
		}
	}
	check := func(s *h2Stream, want string) {
		t.Helper()
		if res := <-s.end; res.category != want {
			t.Errorf("%q (%v), want %q", res.category, res.err, want)
		}
	}
	id, s := open()
	respond(t, sfr, id, "404", true)
	check(s, "http status 404")

	id, s = open()
	respond(t, sfr, id, "200", false)
	if err := sfr.WriteRSTStream(id, http2.ErrCodeInternal); err != nil {
		t.Fatal(err)
	}
	check(s, "reset by the server")

	id, s = open()
	respond(t, sfr, id, "200", false)
	if err := sfr.WriteData(id, false, []byte("not an FLV file at all")); err != nil {
		t.Fatal(err)
	}
	check(s, "bad FLV")

	// GOAWAY refuses the streams after its last; the others end with the
	// connection.
	served, s1 := open()
	respond(t, sfr, served, "200", false)
	_, s2 := open()
	if err := sfr.WriteGoAway(served, http2.ErrCodeNo, nil); err != nil {
		t.Fatal(err)
	}
	check(s2, "closed by the server")
	if _, _, err := c.open(new(viewer), r); err == nil {
		t.Error("a stream opened after GOAWAY")
	}
	sc.Close()
	check(s1, "closed by the server")
}
