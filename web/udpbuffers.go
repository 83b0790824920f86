package web

import (
	"log/slog"
	"net"
)

// quicBufferBytes is what quic-go asks of the kernel for each direction of
// its UDP socket, compared as quic-go does with what the kernel reports
// (twice what it was granted, on Linux).
const quicBufferBytes = 7 << 20

// warnSmallUDPBuffers says, in the server's own log, when the HTTP/3
// socket's buffers are smaller than quic-go wanted: without CAP_NET_ADMIN
// they are bounded by net.core.rmem_max and wmem_max, 208 KiB on a stock
// kernel, and at a few hundred viewers the socket then drops their
// acknowledgements (BENCHMARKS.md). It is called once quic-go has set
// them, at the first HTTP/3 connection.
func warnSmallUDPBuffers(logger *slog.Logger, conn net.PacketConn) {
	recv, send, ok := udpBufferSizes(conn)
	if !ok || (recv >= quicBufferBytes && send >= quicBufferBytes) {
		return
	}
	logger.Warn("http3: UDP socket buffers smaller than QUIC needs; raise net.core.rmem_max and net.core.wmem_max on the host (README)",
		"receive_bytes", recv, "send_bytes", send, "wanted_bytes", quicBufferBytes)
}
