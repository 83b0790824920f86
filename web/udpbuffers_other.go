//go:build !unix

package web

import "net"

// udpBufferSizes cannot read the sizes here; nothing is said.
func udpBufferSizes(net.PacketConn) (recv, send int, ok bool) { return 0, 0, false }
