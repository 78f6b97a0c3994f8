package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
)

// Addresses the zero Guard must refuse.
var blocked = []struct {
	addr string
	why  string
}{
	{"127.0.0.1", "IPv4 loopback"},
	{"127.255.255.254", "IPv4 loopback range"},
	{"::1", "IPv6 loopback"},
	{"10.0.0.1", "RFC 1918 10/8"},
	{"10.255.255.255", "RFC 1918 10/8 end"},
	{"172.16.0.1", "RFC 1918 172.16/12"},
	{"172.31.255.254", "RFC 1918 172.16/12 end"},
	{"192.168.1.1", "RFC 1918 192.168/16"},
	{"169.254.169.254", "link-local, cloud metadata"},
	{"169.254.0.1", "link-local"},
	{"::ffff:127.0.0.1", "IPv4-mapped loopback"},
	{"::ffff:10.0.0.1", "IPv4-mapped private"},
	{"::ffff:169.254.169.254", "IPv4-mapped metadata"},
	{"::ffff:100.64.0.1", "IPv4-mapped carrier-grade NAT"},
	{"::ffff:198.18.0.1", "IPv4-mapped benchmarking"},
	{"::ffff:255.255.255.255", "IPv4-mapped broadcast"},
	{"fe80::1", "IPv6 link-local"},
	{"fc00::1", "IPv6 unique local"},
	{"fd00:ec2::254", "AWS metadata over IPv6"},
	{"0.0.0.0", "IPv4 unspecified"},
	{"0.1.2.3", "this network 0/8"},
	{"::", "IPv6 unspecified"},
	{"224.0.0.1", "IPv4 multicast"},
	{"239.255.255.250", "IPv4 multicast (SSDP)"},
	{"ff02::1", "IPv6 link-local multicast"},
	{"ff05::2", "IPv6 site-local multicast"},
	{"100.64.0.1", "carrier-grade NAT"},
	{"100.127.255.254", "carrier-grade NAT end"},
	{"255.255.255.255", "broadcast"},
	{"240.0.0.1", "reserved 240/4"},
	{"192.0.0.1", "IETF protocol assignments"},
	{"198.18.0.1", "benchmarking"},
	{"64:ff9b::a00:1", "NAT64 of 10.0.0.1"},
	{"2001:db8::1", "documentation"},
	{"2002:7f00:1::", "6to4 of 127.0.0.1"},
	{"::127.0.0.1", "IPv4-compatible loopback"},
	{"::7f00:1", "IPv4-compatible loopback, hex"},
	{"::8.8.8.8", "IPv4-compatible, even of a public address"},
	{"::ffff:0:127.0.0.1", "IPv4-translated loopback"},
	{"::ffff:0:808:808", "IPv4-translated, even of a public address"},
}

// Public addresses the zero Guard must allow.
var allowed = []string{
	"8.8.8.8",
	"1.1.1.1",
	"2606:4700:4700::1111",
	"93.184.216.34",
	"172.32.0.1",     // just outside 172.16/12
	"100.128.0.1",    // just outside 100.64/10
	"11.0.0.1",       // just outside 10/8
	"::ffff:8.8.8.8", // IPv4-mapped public
}

func TestCheckAddr(t *testing.T) {
	for _, tc := range blocked {
		t.Run("blocked/"+tc.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			err := netguard.Guard{}.CheckAddr(a)
			if !errors.Is(err, netguard.ErrBlocked) {
				t.Fatalf("zero Guard CheckAddr(%s) (%s) = %v, want ErrBlocked", tc.addr, tc.why, err)
			}
			if err := (netguard.Guard{AllowPrivate: true}).CheckAddr(a); err != nil {
				t.Fatalf("AllowPrivate CheckAddr(%s) = %v, want nil", tc.addr, err)
			}
		})
	}
	for _, addr := range allowed {
		t.Run("allowed/"+addr, func(t *testing.T) {
			a := netip.MustParseAddr(addr)
			if err := (netguard.Guard{}).CheckAddr(a); err != nil {
				t.Fatalf("zero Guard CheckAddr(%s) = %v, want nil", addr, err)
			}
			if err := (netguard.Guard{AllowPrivate: true}).CheckAddr(a); err != nil {
				t.Fatalf("AllowPrivate CheckAddr(%s) = %v, want nil", addr, err)
			}
		})
	}
	t.Run("zero netip.Addr", func(t *testing.T) {
		if err := (netguard.Guard{}).CheckAddr(netip.Addr{}); !errors.Is(err, netguard.ErrBlocked) {
			t.Fatalf("CheckAddr(invalid) = %v, want ErrBlocked", err)
		}
	})
	t.Run("zoned link-local", func(t *testing.T) {
		if err := (netguard.Guard{}).CheckAddr(netip.MustParseAddr("fe80::1%eth0")); !errors.Is(err, netguard.ErrBlocked) {
			t.Fatalf("CheckAddr(fe80::1%%eth0) = %v, want ErrBlocked", err)
		}
	})
}

func TestControl(t *testing.T) {
	tests := []struct {
		network, address string
		allowPrivate     bool
		wantBlocked      bool
	}{
		{"tcp4", "127.0.0.1:443", false, true},
		{"tcp6", "[::1]:80", false, true},
		{"tcp6", "[::ffff:127.0.0.1]:443", false, true},
		{"tcp4", "169.254.169.254:80", false, true},
		{"tcp4", "10.1.2.3:8080", false, true},
		{"tcp6", "[fe80::1%lo]:443", false, true},
		{"tcp6", "[::127.0.0.1]:443", false, true},
		{"tcp6", "[::7f00:1]:443", false, true},
		{"tcp6", "[::ffff:0:127.0.0.1]:443", false, true},
		{"tcp", "not-an-address", false, true},
		{"tcp", "localhost:443", false, true}, // Control sees resolved addresses only
		{"tcp4", "8.8.8.8:443", false, false},
		{"tcp6", "[2606:4700:4700::1111]:443", false, false},
		{"tcp4", "127.0.0.1:443", true, false},
		{"tcp6", "[::1]:80", true, false},
	}
	for _, tc := range tests {
		name := tc.address
		if tc.allowPrivate {
			name += "/allow-private"
		}
		t.Run(name, func(t *testing.T) {
			err := netguard.Guard{AllowPrivate: tc.allowPrivate}.Control(tc.network, tc.address, nil)
			if tc.wantBlocked != errors.Is(err, netguard.ErrBlocked) {
				t.Fatalf("Control(%s, %s) = %v, want blocked=%v", tc.network, tc.address, err, tc.wantBlocked)
			}
			if !tc.wantBlocked && err != nil {
				t.Fatalf("Control(%s, %s) = %v, want nil", tc.network, tc.address, err)
			}
		})
	}
}

// A dialer using Control must refuse loopback before any connection is made.
func TestControlInDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()

	d := net.Dialer{Timeout: time.Second, Control: netguard.Guard{}.Control}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := d.DialContext(ctx, "tcp", ln.Addr().String()); !errors.Is(err, netguard.ErrBlocked) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("guarded dial to %s = %v, want ErrBlocked", ln.Addr(), err)
	}

	d.Control = netguard.Guard{AllowPrivate: true}.Control
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("AllowPrivate dial to %s: %v", ln.Addr(), err)
	}
	c.Close()
	select {
	case <-accepted:
	case <-ctx.Done():
		t.Fatal("AllowPrivate dial was not accepted")
	}
}

func TestCheckHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := net.DefaultResolver

	// Literal addresses are checked without resolving: no traffic leaves.
	for _, tc := range blocked {
		t.Run("literal blocked/"+tc.addr, func(t *testing.T) {
			if err := (netguard.Guard{}).CheckHost(ctx, r, tc.addr); !errors.Is(err, netguard.ErrBlocked) {
				t.Fatalf("CheckHost(%s) = %v, want ErrBlocked", tc.addr, err)
			}
			if err := (netguard.Guard{AllowPrivate: true}).CheckHost(ctx, r, tc.addr); err != nil {
				t.Fatalf("AllowPrivate CheckHost(%s) = %v, want nil", tc.addr, err)
			}
		})
	}
	for _, addr := range allowed {
		t.Run("literal allowed/"+addr, func(t *testing.T) {
			if err := (netguard.Guard{}).CheckHost(ctx, r, addr); err != nil {
				t.Fatalf("CheckHost(%s) = %v, want nil", addr, err)
			}
		})
	}

	t.Run("localhost", func(t *testing.T) {
		addrs, err := r.LookupNetIP(ctx, "ip", "localhost")
		if err != nil || len(addrs) == 0 {
			t.Skipf("localhost does not resolve here: %v", err)
		}
		for _, a := range addrs {
			if !a.Unmap().IsLoopback() {
				t.Skipf("localhost resolves to non-loopback %s here", a)
			}
		}
		err = netguard.Guard{}.CheckHost(ctx, r, "localhost")
		if !errors.Is(err, netguard.ErrBlocked) {
			t.Fatalf("CheckHost(localhost) = %v, want ErrBlocked", err)
		}
		if err := (netguard.Guard{AllowPrivate: true}).CheckHost(ctx, r, "localhost"); err != nil {
			t.Fatalf("AllowPrivate CheckHost(localhost) = %v, want nil", err)
		}
	})

	t.Run("AllowPrivate does not resolve", func(t *testing.T) {
		// A resolver that fails every lookup: AllowPrivate must not call it.
		failing := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("resolver must not be used")
		}}
		if err := (netguard.Guard{AllowPrivate: true}).CheckHost(ctx, failing, "herald.invalid"); err != nil {
			t.Fatalf("AllowPrivate CheckHost = %v, want nil", err)
		}
		if err := (netguard.Guard{}).CheckHost(ctx, failing, "herald.invalid"); err == nil {
			t.Fatal("zero Guard CheckHost with a failing resolver = nil, want an error")
		}
	})
}
