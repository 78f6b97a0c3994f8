// Package egress makes Herald's outbound connections, to webhook endpoints
// and OAuth2 token endpoints: directly, with the SSRF guard checking each
// dialled address, or through an HTTP CONNECT proxy (for platforms whose
// traffic must leave through fixed addresses). Through a proxy the guard
// checks the target before the proxy is asked anything: Herald resolves
// the target itself and asks the proxy for a checked address, so a name
// that resolves differently for the proxy cannot reach a refused one. The
// proxy's own address is exempt from the guard (it is the operator's).
package egress

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/netguard"
)

// Dialer makes connections for an http.Transport (DialContext).
type Dialer struct {
	guard    netguard.Guard
	resolver netguard.Resolver
	direct   *net.Dialer // every address through the guard
	toProxy  *net.Dialer // the proxy's address, exempt
	proxy    string      // host:port of the proxy; "" for direct connections
	auth     string      // Proxy-Authorization value ("": none)
}

// dialTimeout bounds connecting to an endpoint or to the proxy.
const dialTimeout = 10 * time.Second

// New returns a Dialer whose connections pass guard, through proxy when it
// is not nil (see ParseProxyURL); resolver resolves targets for the proxy
// (nil: the default).
func New(guard netguard.Guard, proxy *url.URL, resolver netguard.Resolver) *Dialer {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	d := &Dialer{
		guard:    guard,
		resolver: resolver,
		direct:   &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second, Control: guard.Control},
		toProxy:  &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
	}
	if proxy != nil {
		d.proxy = proxy.Host
		if u := proxy.User; u != nil {
			pass, _ := u.Password()
			d.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pass))
		}
	}
	return d
}

// ParseProxyURL reads --proxy-url: http://[user:password@]host[:port] (port
// 80 by default), the credentials sent as Proxy-Authorization. Its errors
// never repeat the URL, which may hold a password.
func ParseProxyURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("is not a URL such as http://user:password@proxy.internal:3128")
	case u.Scheme != "http":
		return nil, errors.New("must be an http:// URL (an HTTP CONNECT proxy, such as http://proxy.internal:3128)")
	case u.Hostname() == "":
		return nil, errors.New("names no proxy host")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return nil, errors.New("must be only http://[user:password@]host[:port]")
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, errors.New("has a port that is not a number from 1 to 65535")
	}
	u.Host = net.JoinHostPort(u.Hostname(), port)
	u.Path = ""
	return u, nil
}

// ProxyError is a failure of the proxy: it could not be reached, or it
// refused to open the tunnel. Its text names the proxy by address and
// never holds its credentials.
type ProxyError struct {
	msg string
	err error
}

func (e *ProxyError) Error() string { return e.msg }
func (e *ProxyError) Unwrap() error { return e.err }

// DialContext connects to addr (host:port): directly, or through the proxy
// to one of host's checked addresses.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.proxy == "" {
		return d.direct.DialContext(ctx, network, addr)
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: bad port", addr)
	}
	addrs, err := d.guard.Addrs(ctx, d.resolver, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		conn, err := d.tunnel(ctx, netip.AddrPortFrom(a, uint16(port)))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		var pe *ProxyError
		if ctx.Err() != nil || (errors.As(err, &pe) && pe.err != nil) {
			break // out of time, or the proxy itself is unreachable
		}
	}
	return nil, firstErr
}

// tunnel asks the proxy for a tunnel to target.
func (d *Dialer) tunnel(ctx context.Context, target netip.AddrPort) (net.Conn, error) {
	conn, err := d.toProxy.DialContext(ctx, "tcp", d.proxy)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // the attempt's own deadline: a timeout, not the proxy's fault
		}
		return nil, &ProxyError{msg: "proxy " + d.proxy + " unreachable: " + err.Error(), err: err}
	}
	// The CONNECT exchange ends with the attempt's context.
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	resp, br, err := d.connect(conn, target.String())
	interrupted := !stop()
	_ = conn.SetDeadline(time.Time{})
	switch {
	case interrupted || ctx.Err() != nil:
		conn.Close()
		return nil, fmt.Errorf("CONNECT %s through proxy %s: %w", target, d.proxy, context.Cause(ctx))
	case err != nil:
		conn.Close()
		return nil, &ProxyError{msg: fmt.Sprintf("proxy %s: CONNECT %s: %v", d.proxy, target, err)}
	case resp.StatusCode != http.StatusOK:
		conn.Close()
		return nil, &ProxyError{msg: fmt.Sprintf("proxy %s answered %s to CONNECT %s", d.proxy, resp.Status, target)}
	}
	if br.Buffered() > 0 { // bytes of the target already read with the answer
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// connect sends the CONNECT request and reads the proxy's answer head.
func (d *Dialer) connect(conn net.Conn, target string) (*http.Response, *bufio.Reader, error) {
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if d.auth != "" {
		req += "Proxy-Authorization: " + d.auth + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, nil, err
	}
	// A CONNECT answer has no body to read (a refusal's body is dropped
	// with the connection).
	return resp, br, nil
}

// bufferedConn reads first what the CONNECT answer's reader holds.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
