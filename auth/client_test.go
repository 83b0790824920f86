package auth

import (
	"net"
	"net/netip"
	"testing"
)

func TestClient(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client", "198.51.100.1:5000", nil, "198.51.100.1"},
		{"direct client's header is ignored", "198.51.100.1:5000", []string{"192.0.2.1"}, "198.51.100.1"},
		{"proxy without header", "10.0.0.1:5000", nil, "10.0.0.1"},
		{"one proxy", "10.0.0.1:5000", []string{"192.0.2.1"}, "192.0.2.1"},
		{"client's own entries on the left are not believed", "10.0.0.1:5000", []string{"203.0.113.9, 192.0.2.1"}, "192.0.2.1"},
		{"chain of trusted proxies", "10.0.0.1:5000", []string{"192.0.2.1, 10.0.0.3, 10.0.0.2"}, "192.0.2.1"},
		{"several header lines", "10.0.0.1:5000", []string{"203.0.113.9", "192.0.2.1, 10.0.0.2"}, "192.0.2.1"},
		{"all trusted: the leftmost", "10.0.0.1:5000", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"garbage stops at the proxy that passed it", "10.0.0.1:5000", []string{"192.0.2.1, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"garbage right away", "10.0.0.1:5000", []string{"nonsense"}, "10.0.0.1"},
		{"empty entries skipped", "10.0.0.1:5000", []string{"192.0.2.1,, ,"}, "192.0.2.1"},
		{"entry with port", "10.0.0.1:5000", []string{"192.0.2.1:1234"}, "192.0.2.1"},
		{"IPv6 entry", "10.0.0.1:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv6 entry in brackets with port", "10.0.0.1:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv6 proxy", "[2001:db8:ffff::1]:443", []string{"192.0.2.1"}, "192.0.2.1"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:5000", []string{"192.0.2.1"}, "192.0.2.1"},
		{"IPv4-mapped entry", "10.0.0.1:5000", []string{"::ffff:192.0.2.1"}, "192.0.2.1"},
		{"zone dropped", "[fe80::1%eth0]:5000", nil, "fe80::1"},
		{"peer not an address", "@", []string{"192.0.2.1"}, "invalid IP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := proxies.Client(c.remote, c.xff); got.String() != c.want {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
}

func TestClientBoundsHops(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	list := "192.0.2.1"
	for range maxForwardedHops + 5 {
		list += ", 10.0.0.9"
	}
	// The chain is longer than any real one: the walk stops among the
	// proxies instead of reading the whole header.
	if got := proxies.Client("10.0.0.1:1", []string{list}); got.String() != "10.0.0.9" {
		t.Fatalf("got %v", got)
	}
}

func TestAddrOf(t *testing.T) {
	cases := []struct {
		a    net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1935}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1935}, "2001:db8::1"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "invalid IP"},
		{nil, "invalid IP"},
		{(*net.TCPAddr)(nil), "invalid IP"},
	}
	for _, c := range cases {
		if got := AddrOf(c.a); got.String() != c.want {
			t.Errorf("AddrOf(%v) = %v, want %s", c.a, got, c.want)
		}
	}
}
