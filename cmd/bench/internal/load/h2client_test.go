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

// TestH2ClientWindowUpdates plays one viewer against a raw HTTP/2 server
// that counts the client's WINDOW_UPDATE frames: none until more than half
// the stream window (3 MiB) has come, then one for all of it. A PING after
// the data marks where the client has taken it all: it answers in order.
func TestH2ClientWindowUpdates(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()

	c, err := newH2Conn(nc, "example.com", "/live/a.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
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

	r := &runner{start: time.Now(), clock: new(tagClock)}
	v := new(viewer)
	id, s, err := c.open(v, r)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := mustRead(t, sfr).(*http2.MetaHeadersFrame)
	if !ok || h.StreamID != id || h.PseudoValue("path") != "/live/a.flv" || h.PseudoValue("authority") != "example.com" || h.PseudoValue("method") != "GET" || !h.StreamEnded() {
		t.Fatalf("request %v", h)
	}
	if err := sfr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	hpack.NewEncoder(&hb).WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	if err := sfr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}

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
