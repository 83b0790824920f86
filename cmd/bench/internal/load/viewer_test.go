package load

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flvedge/flvedge/flv"
)

func TestParseTarget(t *testing.T) {
	tg, err := parseTarget("http://example.com/live/a.flv?token=x&only_audio=1", "h1", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "GET /live/a.flv?token=x&only_audio=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: flvedge-bench\r\nAccept: */*\r\n\r\n"
	if tg.addr != "example.com:80" || string(tg.request) != want {
		t.Errorf("%q %q", tg.addr, tg.request)
	}
	if tg, err := parseTarget("http://[::1]:8080/live/a.flv", "", false, 0); err != nil || tg.addr != "[::1]:8080" {
		t.Errorf("%q %v", tg.addr, err)
	}
	if tg, err := parseTarget("https://example.com/a.flv", "h1", false, 0); err != nil || tg.addr != "example.com:443" || tg.tls == nil {
		t.Errorf("HTTP/1.1 over TLS: %q %v", tg.addr, err)
	}
	if tg, err := parseTarget("https://example.com/live/a.flv?token=x", "h2", false, 0); err != nil || tg.h2 == nil ||
		tg.h2.addr != "example.com:443" || tg.h2.authority != "example.com" || tg.h2.path != "/live/a.flv?token=x" || tg.h2.perConn != h2MaxStreams {
		t.Errorf("HTTP/2: %+v %v", tg.h2, err)
	}
	if _, err := parseTarget("http://example.com/a.flv", "h2", false, 0); err == nil {
		t.Error("HTTP/2 over http://: no error")
	}
	for _, bad := range []string{"ftp://example.com/a.flv", "http:///a.flv", "http://a b/"} {
		if _, err := parseTarget(bad, "h1", false, 0); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParseResponseHead(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want responseHead
		err  string
	}{
		{in: "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked", want: responseHead{status: 200, chunked: true, length: -1}},
		{in: "HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked \r\nContent-Length: 5", want: responseHead{status: 200, chunked: true, length: -1}},
		{in: "HTTP/1.0 200 OK", want: responseHead{status: 200, length: -1, close: true}},
		{in: "HTTP/1.1 206 Partial Content\r\nConnection: keep-alive, Close\r\ncontent-range: bytes 0-9/20\r\nX-Cache-Status:  HIT\r\nContent-Length: 10", want: responseHead{status: 206, length: 10, close: true, contentRange: "bytes 0-9/20", cacheStatus: "HIT"}},
		{in: "HTTP/1.1 200", want: responseHead{status: 200, length: -1}},
		{in: "HTTP/1.1 404 Not Found\r\nContent-Length: 18", want: responseHead{status: 404, length: 18}},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked", err: "only chunked"},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: -1", err: "Content-Length"},
		{in: "HTTP/1.1 200 OK\r\nno colon", err: "header line"},
		{in: "ICY 200 OK", err: "status line"},
		{in: "HTTP/1.1 2000 OK", err: "status line"},
		{in: "HTTP/1.1 abc OK", err: "status line"},
		{in: "HTTP/1.1 -12 OK", err: "status line"},
		{in: "HTTP/1.1 +12 OK", err: "status line"},
	} {
		got, err := parseResponseHead([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

// chunk frames data as one HTTP chunk.
func chunk(data []byte) []byte {
	b := fmt.Appendf(nil, "%x\r\n", len(data))
	return append(append(b, data...), "\r\n"...)
}

func TestViewerReceive(t *testing.T) {
	tags := testTags(t, 2000)
	// The second keyframe's timestamp goes back: one error, on video only.
	for i := range tags {
		if tags[i].Timestamp == 1000 && tags[i].Type == 9 {
			tags[i].Timestamp = 900
		}
	}
	body := chunk(encodeFLV(t, tags))
	body = append(body, "0\r\n\r\n"...)

	r := &runner{clock: new(tagClock), publishing: true}
	r.measuring.Store(true)
	for _, tag := range tags {
		if track := flv.TrackOf(tag.Type); track != flv.NoTrack && tag.Timestamp < 1500 {
			r.clock.set(track, tag.Timestamp, int64(tag.Timestamp)*1000)
		}
	}
	v := &viewer{chunked: true, remaining: -1, joined: 100_000}
	category, err := v.receive(body[:len(body)/2], 1_000_000, r)
	if err != nil {
		t.Fatal(category, err)
	}
	category, err = v.receive(body[len(body)/2:], 2_000_000, r)
	if err != errBodyEnded || category != "ended by the server" {
		t.Errorf("end of body: %q %v", category, err)
	}
	if v.bytes.Load() != int64(len(body)-len(fmt.Sprintf("%x\r\n", len(body)))-7) {
		t.Errorf("%d FLV bytes of a %d-byte body", v.bytes.Load(), len(body))
	}
	if v.tsErrors.Load() != 1 {
		t.Errorf("%d timestamp errors, want 1", v.tsErrors.Load())
	}
	if v.ttfk.Load() != 900_000 {
		t.Errorf("first keyframe after %d µs, want 900000", v.ttfk.Load())
	}
	// Tags published from 100 ms (when the viewer came) to 1.5 s count;
	// later ones were never published.
	var h histogram
	h.merge(&v.lag)
	if h.n == 0 || v.unmatched == 0 {
		t.Fatalf("%d lag samples, %d unmatched", h.n, v.unmatched)
	}
	if h.max > 2_000_000-100_000 {
		t.Errorf("lag up to %d µs counts a tag from before the viewer came", h.max)
	}
}

func TestViewerReceiveAllocatesNothing(t *testing.T) {
	tags := testTags(t, 4000)
	data := encodeFLV(t, tags)
	header, tail := data[:13+11+len(tags[0].Data)+4], data[13+11+len(tags[0].Data)+4:]
	r := &runner{clock: new(tagClock)}
	r.measuring.Store(true)
	v := &viewer{chunked: true, remaining: -1}
	if _, err := v.receive(chunk(header), 1, r); err != nil {
		t.Fatal(err)
	}
	// The same tags over and over, as one endless stream.
	reads := [][]byte{}
	for b := chunk(tail); len(b) > 0; b = b[min(len(b), 5000):] {
		reads = append(reads, b[:min(len(b), 5000)])
	}
	now := int64(2)
	allocs := testing.AllocsPerRun(20, func() {
		for _, p := range reads {
			now++
			if _, err := v.receive(p, now, r); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per %d reads", allocs, len(reads))
	}
}

// FuzzResponseHead: any header either parses into a status of three
// digits and a framing, or is refused; nothing panics.
func FuzzResponseHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: video/x-flv"))
	f.Add([]byte("HTTP/1.0 302 Found\r\nLocation: http://b/a.flv\r\nContent-Length: 0"))
	f.Fuzz(func(t *testing.T, h []byte) {
		head, err := parseResponseHead(h)
		if err != nil {
			return
		}
		if head.status < 0 || head.status > 999 || head.length < -1 || head.chunked && head.length != -1 {
			t.Errorf("%q: %+v", h, head)
		}
	})
}
