package load

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/flvedge/flvedge/flv"
)

// streamFLV serves an endless synthetic stream: a keyframe a second, 25
// frames a second, until the client goes.
func streamFLV(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "video/x-flv")
	w.Write(flv.AppendHeader(nil, false, true))
	w.Write(flv.AppendTag(nil, flv.Tag{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff}}))
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		frame := []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41}
		if i%25 == 0 {
			frame[0] = 0x17
		}
		if _, err := w.Write(flv.AppendTag(nil, flv.Tag{Type: flv.TagVideo, Timestamp: uint32(i * 40), Data: frame})); err != nil {
			return
		}
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

func TestViewersOverHTTP2AndHTTP3(t *testing.T) {
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(streamFLV))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h3 := &http3.Server{Handler: http.HandlerFunc(streamFLV), TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: h2.TLS.Certificates})}
	go h3.Serve(udp)
	defer func() {
		h3.Close()
		udp.Close()
	}()

	for proto, url := range map[string]string{
		"h2": h2.URL + "/live/a.flv",
		"h3": "https://" + udp.LocalAddr().String() + "/live/a.flv",
	} {
		rep, err := Run(context.Background(), Config{URL: url, Proto: proto, Insecure: true, Viewers: 5, Ramp: 100 * time.Millisecond, Duration: time.Second})
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if rep.Connections.OK != 5 || rep.Connections.Failed != 0 || rep.TTFK.P50 <= 0 || rep.TimestampErrors != 0 {
			t.Fatalf("%s: %+v", proto, rep.Connections)
		}
	}
}
