// Package netguard keeps Herald from being turned against its own network
// (SSRF): it refuses connections to loopback, private, link-local,
// multicast, unspecified and other non-public addresses. The check runs on
// the resolved address of every connection, so a hostname that changes its
// DNS answer after registration is still caught.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// ErrBlocked is returned (wrapped) for a refused address.
var ErrBlocked = errors.New("address not allowed")

// Non-public ranges that netip's predicates do not cover.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, also some cloud metadata
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 (can reach IPv4 private space)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2002::/16"),      // 6to4 (embeds IPv4)
	netip.MustParsePrefix("192.88.99.0/24"), // 6to4 relay anycast
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, cloud metadata (169.254.169.254)
	netip.MustParsePrefix("fd00:ec2::/32"),  // AWS metadata over IPv6 (inside fc00::/7 too)
	netip.MustParsePrefix("255.255.255.255/32"),
	// IPv4-compatible (deprecated, RFC 4291) and IPv4-translated (RFC 2765)
	// addresses embed an IPv4 address that some stacks reach; IPv4-mapped
	// ones (::ffff:0:0/96) are unmapped and checked as IPv4.
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
}

// Guard decides which addresses Herald may connect to. The zero value
// refuses every non-public address.
type Guard struct {
	// AllowPrivate lets every address through (development and tests).
	AllowPrivate bool
}

// CheckAddr refuses a non-public address unless private targets are allowed.
func (g Guard) CheckAddr(a netip.Addr) error {
	if g.AllowPrivate {
		return nil
	}
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return fmt.Errorf("%s: %w", a, ErrBlocked)
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return fmt.Errorf("%s: %w", a, ErrBlocked)
		}
	}
	return nil
}

// Control is a net.Dialer Control function: it runs after DNS resolution,
// on the exact address about to be dialled.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, ErrBlocked)
	}
	return g.CheckAddr(ap.Addr())
}

// Resolver resolves names (a *net.Resolver; nil is the default one).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckHost resolves host and refuses it if any of its addresses is not
// allowed. A literal IP address is checked without resolving; localhost
// names are refused without asking a resolver what they mean. host should
// be in the form NormalizeHost returns.
func (g Guard) CheckHost(ctx context.Context, r *net.Resolver, host string) error {
	if g.AllowPrivate {
		return nil
	}
	_, err := g.Addrs(ctx, r, host)
	return err
}

// Addrs resolves host (a literal address stands for itself) and returns
// its addresses, refusing it (ErrBlocked) if any of them is not allowed,
// and a localhost name without resolving it. It is for a connection made
// through a proxy, which would resolve the name itself: the caller
// connects the proxy to one of these checked addresses instead.
func (g Guard) Addrs(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		if err := g.CheckAddr(a); err != nil {
			return nil, err
		}
		return []netip.Addr{a.Unmap()}, nil
	}
	if !g.AllowPrivate && isLocalName(host) {
		return nil, fmt.Errorf("%s names the local host: %w", host, ErrBlocked)
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	for i, a := range addrs {
		if err := g.CheckAddr(a); err != nil {
			return nil, fmt.Errorf("%s resolves to %w", host, err)
		}
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}
