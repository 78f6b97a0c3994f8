package egress_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/pkitest"
	"github.com/heraldhq/herald/internal/proxytest"
)

const (
	user, password = "herald", "pr0xy-s3cret-9d2f"
	public         = "203.0.113.10" // TEST-NET-3: an address the guard allows
)

// names is a resolver of fixed answers.
type names map[string][]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	list, ok := n[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range list {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

var resolver = names{
	"hooks.bank.example":    {public},
	"internal.bank.example": {"10.0.0.5"},
	"mixed.bank.example":    {public, "10.0.0.5"},
}

func proxyURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := egress.ParseProxyURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// client is an HTTP client dialling with d, trusting roots.
func client(d *egress.Dialer, roots *pkitest.CA) *http.Client {
	tr := &http.Transport{DialContext: d.DialContext}
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots.Pool()}
	}
	return &http.Client{Transport: tr}
}

// Through a real CONNECT proxy, with the guard refusing every private
// address (the proxy on 127.0.0.1 is exempt): plain HTTP and HTTPS targets
// are tunnelled, the proxy is asked for the checked address (never the
// name) with the credentials of the URL.
func TestProxyTunnels(t *testing.T) {
	hello := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello %s %s", r.Host, r.URL.Path) }
	plain := httptest.NewServer(http.HandlerFunc(hello))
	t.Cleanup(plain.Close)
	ca := pkitest.NewCA(t, "server CA")
	secure := httptest.NewUnstartedServer(http.HandlerFunc(hello))
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, public, "hooks.bank.example").Pair}}
	secure.StartTLS()
	t.Cleanup(secure.Close)
	p := proxytest.New(t, user, password)
	p.Route(public+":80", plain.Listener.Addr().String())
	p.Route(public+":443", secure.Listener.Addr().String())
	c := client(egress.New(netguard.Guard{}, proxyURL(t, p.URL), resolver), ca)
	for _, tc := range []struct{ url, want, asked string }{
		{"http://" + public + "/a", "hello " + public + " /a", public + ":80"},
		{"https://" + public + "/b", "hello " + public + " /b", public + ":443"},
		{"https://hooks.bank.example/c", "hello hooks.bank.example /c", public + ":443"},
	} {
		resp, err := c.Get(tc.url)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.want {
			t.Fatalf("GET %s = %q, want %q", tc.url, body, tc.want)
		}
		if asked := p.Connects(); asked[len(asked)-1] != tc.asked {
			t.Fatalf("GET %s: the proxy was asked for %q, want %q", tc.url, asked[len(asked)-1], tc.asked)
		}
	}
}

// A target the guard refuses is refused before the proxy is contacted.
func TestProxyNotAskedForForbiddenTargets(t *testing.T) {
	p := proxytest.New(t, user, password)
	d := egress.New(netguard.Guard{}, proxyURL(t, p.URL), resolver)
	for _, addr := range []string{"127.0.0.1:80", "10.1.2.3:443", "[::1]:443", "169.254.169.254:80", "[::ffff:127.0.0.1]:80",
		"localhost:443", "api.localhost:443", "internal.bank.example:443", "mixed.bank.example:443", p.Addr} {
		if conn, err := d.DialContext(context.Background(), "tcp", addr); !errors.Is(err, netguard.ErrBlocked) {
			if conn != nil {
				conn.Close()
			}
			t.Errorf("dial %s: %v, want ErrBlocked", addr, err)
		}
	}
	if n := p.Connections(); n != 0 {
		t.Fatalf("the proxy was contacted %d times (asked %v)", n, p.Connects())
	}
	// Without a proxy the guard refuses the same at dial time.
	direct := egress.New(netguard.Guard{}, nil, resolver)
	if _, err := direct.DialContext(context.Background(), "tcp", p.Addr); !errors.Is(err, netguard.ErrBlocked) {
		t.Fatalf("direct dial of loopback: %v, want ErrBlocked", err)
	}
}

// The proxy's failures are ProxyErrors naming the proxy, never with its
// credentials.
func TestProxyFailures(t *testing.T) {
	p := proxytest.New(t, user, password)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()
	p.Route(public+":81", deadAddr)
	for _, tc := range []struct {
		name, proxy, target, want string
	}{
		{"wrong password", "http://" + user + ":wrong-" + password + "@" + p.Addr, public + ":80", "407"},
		{"no credentials", "http://" + p.Addr, public + ":80", "407"},
		{"target refuses", p.URL, public + ":81", "502"},
		{"proxy down", "http://" + user + ":" + password + "@" + deadAddr, public + ":80", "unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := egress.New(netguard.Guard{}, proxyURL(t, tc.proxy), resolver)
			conn, err := d.DialContext(context.Background(), "tcp", tc.target)
			var pe *egress.ProxyError
			if err == nil {
				conn.Close()
			}
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("dial: %v, want a ProxyError saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), user+":") {
				t.Fatalf("the error shows the credentials: %v", err)
			}
		})
	}
}

func TestParseProxyURL(t *testing.T) {
	for _, tc := range []struct {
		raw, host string // host "": refused
	}{
		{"http://proxy.internal:3128", "proxy.internal:3128"},
		{"http://u:p@proxy.internal", "proxy.internal:80"},
		{"http://u:p%40ss@10.0.0.1:8080/", "10.0.0.1:8080"},
		{"http://[fd00::1]:3128", "[fd00::1]:3128"},
		{"https://u:" + password + "@proxy.internal:3128", ""},
		{"socks5://proxy.internal:1080", ""},
		{"proxy.internal:3128", ""},
		{"http://:3128", ""},
		{"http://u:" + password + "@proxy.internal:99999", ""},
		{"http://u:" + password + "@proxy.internal:3128/path", ""},
		{"http://u:" + password + "@proxy internal:3128", ""},
	} {
		u, err := egress.ParseProxyURL(tc.raw)
		if tc.host == "" {
			if err == nil {
				t.Errorf("ParseProxyURL(%q) accepted", tc.raw)
			} else if strings.Contains(err.Error(), password) {
				t.Errorf("ParseProxyURL(%q) error shows the password: %v", tc.raw, err)
			}
			continue
		}
		if err != nil || u.Host != tc.host {
			t.Errorf("ParseProxyURL(%q) = %v, %v; want host %s", tc.raw, u, err, tc.host)
		}
	}
	if u, err := egress.ParseProxyURL(""); u != nil || err != nil {
		t.Errorf("ParseProxyURL(\"\") = %v, %v; want no proxy", u, err)
	}
}
