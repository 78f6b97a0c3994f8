package netguard_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/heraldhq/herald/internal/netguard"
)

func TestNormalizeHost(t *testing.T) {
	normalized := []struct{ in, want string }{
		{"client.example", "client.example"},
		{"Client.EXAMPLE", "client.example"},
		{"client.example.", "client.example."},
		{"bücher.example", "xn--bcher-kva.example"},
		{"ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "localhost"},
		{"１２７.０.０.１", "127.0.0.1"},
		{"127。0。0。1", "127.0.0.1"},
		{"93.184.216.34", "93.184.216.34"},
		{"2606:4700:4700:0:0:0:0:1111", "2606:4700:4700::1111"},
		{"2606:4700:4700::ABCD", "2606:4700:4700::abcd"},
		{"::127.0.0.1", "::7f00:1"}, // normalized here, refused by the Guard
		{"1.example", "1.example"},
		{"0x.example", "0x.example"},
		{"x0.1a", "x0.1a"}, // last label is not a number
	}
	for _, tc := range normalized {
		t.Run(tc.in, func(t *testing.T) {
			got, err := netguard.NormalizeHost(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	refused := []string{
		"127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0", "127.0.0.01", "1.2.3.4.5", "127.0.0.1.",
		"0x7f.0.0.1", "client.0x", "host.123", "１２７.１", "256.0.0.1",
		"::ffff:127.0.0.1", "::ffff:8.8.8.8", "fe80::1%eth0", "1:2:3",
		"a..example", "", "a_b.example", "-a.example", "exa mple.example", "a\u200db.example",
	}
	for _, in := range refused {
		t.Run("refused/"+in, func(t *testing.T) {
			if got, err := netguard.NormalizeHost(in); !errors.Is(err, netguard.ErrHost) {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want ErrHost", in, got, err)
			}
		})
	}
}

func TestCheckHostLocalNames(t *testing.T) {
	// A resolver that fails every lookup: local names are refused by name.
	failing := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("resolver must not be used")
	}}
	for _, host := range []string{"localhost", "localhost.", "LOCALHOST", "api.localhost", "a.b.localhost."} {
		t.Run(host, func(t *testing.T) {
			if err := (netguard.Guard{}).CheckHost(t.Context(), failing, host); !errors.Is(err, netguard.ErrBlocked) {
				t.Fatalf("CheckHost(%q) = %v, want ErrBlocked", host, err)
			}
			if err := (netguard.Guard{AllowPrivate: true}).CheckHost(t.Context(), failing, host); err != nil {
				t.Fatalf("AllowPrivate CheckHost(%q) = %v, want nil", host, err)
			}
		})
	}
	if err := (netguard.Guard{}).CheckHost(t.Context(), failing, "localhost.example"); errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("CheckHost(localhost.example) = %v: only names under localhost are local", err)
	}
}
