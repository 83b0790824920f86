package rtmp

import (
	"net"
	"strings"
	"testing"
)

// TestServeRefusesBadLimits: Serve refuses the limits that the config's
// check refuses, with the same message, and closes the listener.
func TestServeRefusesBadLimits(t *testing.T) {
	for _, tc := range []struct {
		srv  *Server
		want string
	}{
		{&Server{MaxMessageSize: 1 << 24}, "rtmp: max message size 16777216: must be between 64KiB and 16MiB-1"},
		{&Server{MaxMessageSize: 1 << 10}, "rtmp: max message size 1024"},
		{&Server{MaxCommandSize: 1 << 10}, "rtmp: max command size 1024: must be between 4KiB and the max message size"},
		{&Server{MaxMessageSize: 64 << 10, MaxCommandSize: 128 << 10}, "rtmp: max command size 131072"},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.srv.Serve(ln); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
		if _, err := ln.Accept(); err == nil {
			t.Error("the listener stays open")
		}
	}
}
