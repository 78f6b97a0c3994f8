package api_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/pkitest"
	"github.com/heraldhq/herald/internal/proxytest"
)

// herald serve --proxy-url, with the default (strict) SSRF rules: a
// webhook's deliveries and pings leave through the CONNECT proxy, which is
// asked for the checked address; a proxy refusing the tunnel is an attempt
// error of kind proxy; its password is in no answer and no log line.
func TestDeliveriesThroughProxy(t *testing.T) {
	const password = "pr0xy-s3cret-api-51c0"
	b := newBank(t)
	p := proxytest.New(t, "herald", password)
	p.Route("203.0.113.10:443", b.endpoint(t, "203.0.113.10").Listener.Addr().String())
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Route("203.0.113.12:443", closed.Addr().String())
	closed.Close()
	var logs syncBuffer
	in := heraldtest.Start(t, heraldtest.Options{StrictTargets: true, ProxyURL: p.URL, Log: &logs})

	client := b.clientCA.Client(t, "herald-client", pkitest.Options{})
	body := hookBody("https://203.0.113.10/hooks")
	body["config"] = map[string]any{"tls": b.tls(client)}
	hook := createHook(t, in, heraldtest.AdminKey, body)
	publish(t, in, heraldtest.AdminKey, cardEvent)
	waitFor(t, in, heraldtest.AdminKey, map[string]any{"webhook_id": hook.ID, "status": "DELIVERED"}, 1)
	if got := b.seen.Load(); got != "herald-client" {
		t.Fatalf("the endpoint saw client certificate %q", got)
	}
	for _, c := range p.Connects() {
		if c != "203.0.113.10:443" {
			t.Fatalf("the proxy was asked for %q", c)
		}
	}

	unreachable := createHook(t, in, heraldtest.AdminKey, hookBody("https://203.0.113.12/hooks"))
	r := in.Admin(t, "POST", "/webhooks/"+unreachable.ID+":ping", nil)
	var ping struct {
		Success   bool   `json:"success"`
		ErrorKind string `json:"error_kind"`
		Error     string `json:"error"`
	}
	r.JSON(t, &ping)
	if ping.Success || ping.ErrorKind != "proxy" || !strings.Contains(ping.Error, "502") {
		t.Fatalf("ping through a proxy refusing the tunnel: %s", r.Body)
	}
	// A private target cannot even be registered; with the proxy as with
	// none, the SSRF rules are Herald's.
	wantError(t, in.Admin(t, "POST", "/webhooks", hookBody("https://10.0.0.9/hooks")), http.StatusBadRequest, "invalid_request", "endpoint")

	answers := string(r.Body) + string(in.Admin(t, "POST", "/webhooks:search", map[string]any{}).Body)
	if strings.Contains(answers, password) || strings.Contains(logs.String(), password) {
		t.Fatal("the proxy password appears in an answer or in the logs")
	}
	if !strings.Contains(logs.String(), `"proxy":"`+p.Addr+`"`) {
		t.Errorf("the start log line does not name the proxy:\n%.2000s", logs.String())
	}
}
