package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// ErrHost is returned (wrapped) for a host name that is not valid or not
// written in its one canonical form.
var ErrHost = errors.New("invalid host")

// hostProfile is UTS #46 processing for lookup (non-transitional, STD3
// rules, bidi and joiner checks) with DNS length limits: the mapping
// browsers and resolvers apply, so "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ" and "１２７.０.０.１" become
// the names they would reach.
var hostProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.Transitional(false))

// NormalizeHost returns host (as in a URL, without brackets) in the form
// Herald checks, stores and dials: a DNS name through UTS #46 to lower-case
// ASCII, an IPv6 address in its RFC 5952 form. Every check must run on this
// form, or a host that a resolver maps to loopback would pass as a name.
//
// IP addresses written any other way than the canonical one are refused
// rather than interpreted: "127.1", "2130706433", "0x7f000001" and
// "0177.0.0.1" mean 127.0.0.1 to some resolvers and URL parsers and a name
// to others, and an IPv4-mapped IPv6 literal is an IPv4 address in disguise.
func NormalizeHost(host string) (string, error) {
	if strings.Contains(host, ":") {
		return normalizeIPv6(host)
	}
	ascii, err := hostProfile.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid host name (%v): %w", host, err, ErrHost)
	}
	if endsInNumber(ascii) {
		a, err := netip.ParseAddr(ascii)
		if err != nil || !a.Is4() || a.String() != ascii {
			return "", fmt.Errorf("%q is an IP address in a non-canonical form; write IPv4 addresses as four decimal numbers such as 192.0.2.1: %w", host, ErrHost)
		}
	}
	return ascii, nil
}

func normalizeIPv6(host string) (string, error) {
	a, err := netip.ParseAddr(host)
	switch {
	case err != nil || !a.Is6():
		return "", fmt.Errorf("%q is not a valid IPv6 address: %w", host, ErrHost)
	case a.Zone() != "":
		return "", fmt.Errorf("%q: an IPv6 zone is not allowed: %w", host, ErrHost)
	case a.Is4In6():
		return "", fmt.Errorf("%q is an IPv4-mapped address; write it as %s: %w", host, a.Unmap(), ErrHost)
	}
	return a.String(), nil
}

// endsInNumber is the WHATWG URL rule that makes a host an IPv4 address:
// its last label (before an optional trailing dot) is a decimal or 0x
// hexadecimal number. Such a host is an address or nothing, never a name.
func endsInNumber(host string) bool {
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	if last == "" && len(labels) > 1 {
		last = labels[len(labels)-2]
	}
	if last == "" {
		return false
	}
	digits := last
	if strings.HasPrefix(last, "0x") {
		digits = last[2:]
		if digits == "" {
			return true
		}
		return strings.Trim(digits, "0123456789abcdef") == ""
	}
	return strings.Trim(digits, "0123456789") == ""
}

// isLocalName reports whether host is a name reserved for the local host
// (RFC 6761): "localhost", "localhost." and every name under it.
func isLocalName(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}
