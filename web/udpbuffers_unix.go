//go:build unix

package web

import (
	"net"
	"syscall"
)

// udpBufferSizes reads the socket's receive and send buffer sizes as the
// kernel reports them.
func udpBufferSizes(conn net.PacketConn) (recv, send int, ok bool) {
	sc, isSyscall := conn.(syscall.Conn)
	if !isSyscall {
		return 0, 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var rerr, serr error
	if err := raw.Control(func(fd uintptr) {
		recv, rerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		send, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}); err != nil || rerr != nil || serr != nil {
		return 0, 0, false
	}
	return recv, send, true
}
