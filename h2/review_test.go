package h2

import (
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestUnreadResponsesAreBounded: a client that does not read, and sends
// requests whose responses are HEADERS alone (HEAD, here), is cut off once
// those pile up, as for the control frames it provokes: each request is a
// few bytes of HPACK indexes, each response a header block, which would
// otherwise pile up for the write timeout, faster than the bytes received.
func TestUnreadResponsesAreBounded(t *testing.T) {
	c := newRawClient(t, &Server{WriteTimeout: time.Hour}, okHandler, false)
	c.hbuf.Reset()
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
