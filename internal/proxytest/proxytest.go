// Package proxytest is a real HTTP CONNECT proxy on loopback for tests. It
// requires the credentials it was made with, records what it is asked, and
// tunnels to the target, or to the local address a route maps the target
// to: a test can then reach a "public" address, which the SSRF guard
// allows, served by a server on 127.0.0.1.
package proxytest

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a running CONNECT proxy.
type Proxy struct {
	// Addr is its host:port; URL is http://user:password@Addr.
	Addr, URL string

	auth  string // the Proxy-Authorization it requires ("": none)
	ln    net.Listener
	wg    sync.WaitGroup
	conns atomic.Int32

	mu       sync.Mutex
	routes   map[string]string
	connects []string
	open     map[net.Conn]bool
}

// New starts a proxy requiring user and password (none when user is "").
func New(t testing.TB, user, password string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, routes: map[string]string{}, open: map[net.Conn]bool{}}
	p.URL = "http://" + p.Addr
	if user != "" {
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
		p.URL = "http://" + user + ":" + password + "@" + p.Addr
	}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// Route makes CONNECT target (host:port as asked) tunnel to the local
// address to instead.
func (p *Proxy) Route(target, to string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.routes[target] = to
}

// Connects lists the targets of the CONNECT requests received, refused
// ones included, in order.
func (p *Proxy) Connects() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...)
}

// Connections counts the TCP connections the proxy accepted.
func (p *Proxy) Connections() int { return int(p.conns.Load()) }

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		p.track(c, true)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.track(c, false)
			p.handle(c)
		}()
	}
}

func (p *Proxy) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.open[c] = true
		return
	}
	delete(p.open, c)
	c.Close()
}

func (p *Proxy) handle(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.mu.Lock()
	p.connects = append(p.connects, req.Host)
	to := p.routes[req.Host]
	p.mu.Unlock()
	if p.auth != "" && req.Header.Get("Proxy-Authorization") != p.auth {
		_, _ = io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if to == "" {
		to = req.Host
	}
	up, err := net.DialTimeout("tcp", to, 5*time.Second)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.track(up, true)
	defer p.track(up, false)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, br); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// close stops the proxy and every tunnel.
func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
