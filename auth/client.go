package auth

import (
	"net"
	"net/netip"
	"strings"
)

// Proxies are the addresses of reverse proxies and load balancers whose
// X-Forwarded-For is believed. Anyone else could write any address there.
type Proxies []netip.Prefix

func (p Proxies) trusts(a netip.Addr) bool {
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// maxForwardedHops bounds the X-Forwarded-For entries looked at: a real
// chain of proxies is short, a long header is an attack on CPU time.
const maxForwardedHops = 32

// Client returns the address of the client behind a request: the peer of
// the connection, or, when that peer is a trusted proxy, the nearest address
// in X-Forwarded-For that is not a trusted proxy. Entries are read from the
// right, the only side the trusted proxies wrote; an entry that is not an
// address stops the walk at the proxy that passed it on. The zero Addr means
// the request's RemoteAddr is not an IP address.
func (p Proxies) Client(remoteAddr string, forwardedFor []string) netip.Addr {
	client := ParseAddr(remoteAddr)
	if !client.IsValid() || !p.trusts(client) {
		return client
	}
	hops := 0
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		list := forwardedFor[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, entry = list[:j], list[j+1:]
			} else {
				list, entry = "", list
			}
			if hops++; hops > maxForwardedHops {
				return client
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue // "a,,b" or a trailing comma: nobody's address
			}
			a := ParseAddr(entry)
			if !a.IsValid() {
				return client
			}
			client = a
			if !p.trusts(a) {
				return client
			}
		}
	}
	return client
}

// ParseAddr reads an address as peers and proxies write it: "203.0.113.7",
// "203.0.113.7:51234", "2001:db8::1", "[2001:db8::1]:443". IPv4-mapped IPv6
// addresses become IPv4 and zones are dropped, so that one client always
// has one form. Anything else gives the zero Addr.
func ParseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// AddrOf returns the IP address of a connection's peer, or the zero Addr for
// peers that have none (Unix sockets, pipes).
func AddrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a == nil {
			return netip.Addr{}
		}
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap().WithZone("")
	case nil:
		return netip.Addr{}
	}
	return ParseAddr(a.String())
}
