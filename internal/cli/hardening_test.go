package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestTenantsCreateValidatesNames: tenants create holds names to the rule
// of POST /tenants, and stores nothing it refuses.
func TestTenantsCreateValidatesNames(t *testing.T) {
	dir := newDatabase(t)
	for _, name := range []string{"", "a b/c", "-acme", ".acme", "acme!", "ténant", strings.Repeat("a", 65)} {
		_, errOut, code := run(t, "tenants", "create", "--data", dir, "--", name)
		if code == 0 || !strings.Contains(errOut, "tenant name") {
			t.Errorf("tenants create %q: code %d, %q; want a refusal naming the rule", name, code, errOut)
		}
	}
	if out, _, _ := run(t, "tenants", "list", "--data", dir); strings.Count(out, "\n") != 1 {
		t.Errorf("refused names were stored:\n%s", out)
	}
	for _, name := range []string{"acme", "a", "Acme.eu_2-x", strings.Repeat("b", 64)} {
		if _, errOut, code := run(t, "tenants", "create", name, "--data", dir); code != 0 {
			t.Errorf("tenants create %q: %s", name, errOut)
		}
	}
}

// TestAdminCommandsNeedADatabase: tenants, keys and secrets refuse a
// --data that holds no Herald database, and create nothing there; migrate
// creates one.
func TestAdminCommandsNeedADatabase(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(t.TempDir(), "typo")
	for _, dir := range []string{empty, missing} {
		for _, args := range [][]string{
			{"tenants", "list"}, {"tenants", "create", "acme"},
			{"keys", "list"}, {"keys", "create", "acme"}, {"keys", "create", "--admin"}, {"keys", "revoke", "k"},
			{"secrets", "reseal"},
		} {
			out, errOut, code := run(t, append(args, "--data", dir)...)
			if code == 0 || !strings.Contains(errOut, "no Herald database in "+dir) || !strings.Contains(errOut, "herald migrate") {
				t.Errorf("%v --data %s: code %d, %q %q; want a refusal", args, dir, code, out, errOut)
			}
		}
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("the empty directory now holds %v (%v)", entries, err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the missing directory was created (%v)", err)
	}
	if _, errOut, code := run(t, "migrate", "--data", missing); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	if _, errOut, code := run(t, "tenants", "create", "acme", "--data", missing); code != 0 {
		t.Errorf("tenants create after migrate: %s", errOut)
	}
}

// runBounded is run for a command that should fail at once but would, if
// it started after all, serve until stopped: it is stopped after a while,
// so such a failure shows as a failed test, not a hung one.
func runBounded(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut lockedBuffer
	code := Execute(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestServeBindsBeforeItCreatesAnything: a serve that cannot listen creates
// no data directory and prints no admin key.
func TestServeBindsBeforeItCreatesAnything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "data")
	out, errOut, code := runBounded(t, "serve", "--addr", busy.Addr().String(), "--data", dir)
	if code == 0 || !strings.Contains(errOut, "listen on "+busy.Addr().String()) {
		t.Fatalf("serve on a busy address: code %d, %q", code, errOut)
	}
	if strings.Contains(out, "hk_") || strings.Contains(out, "admin") {
		t.Errorf("a server that did not start printed %q", out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a server that did not start created %s (%v)", dir, err)
	}
}

// TestServeRefusesShortAdminKeys: an admin key given by flag or environment
// is at least 32 characters; a shorter one stops serve before it creates
// anything.
func TestServeRefusesShortAdminKeys(t *testing.T) {
	short := strings.Repeat("k", 31)
	dir := filepath.Join(t.TempDir(), "data")
	_, errOut, code := runBounded(t, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--admin-key", short)
	if code == 0 || !strings.Contains(errOut, "at least 32") {
		t.Errorf("--admin-key of 31 characters: code %d, %q", code, errOut)
	}
	t.Setenv("HERALD_ADMIN_KEY", short)
	_, errOut, code = runBounded(t, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	if code == 0 || !strings.Contains(errOut, "HERALD_ADMIN_KEY") || strings.Contains(errOut, short) {
		t.Errorf("HERALD_ADMIN_KEY of 31 characters: code %d, %q (the key must not be echoed)", code, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused serve created %s (%v)", dir, err)
	}
}

// TestEnvironmentBeforeArgumentChecks: HERALD_ALL=true herald trigger
// publishes every sample, as --all does (the argument check sees it).
func TestEnvironmentBeforeArgumentChecks(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	t.Setenv("HERALD_ALL", "true")
	t.Setenv("HERALD_URL", in.URL)
	t.Setenv("HERALD_API_KEY", heraldtest.AdminKey)
	out, errOut, code := run(t, "trigger")
	if code != 0 {
		t.Fatalf("HERALD_ALL=true herald trigger: %d %s %s", code, out, errOut)
	}
	if n := strings.Count(out, " 202 "); n < 17 {
		t.Errorf("published %d samples:\n%s", n, out)
	}
	// And NAME with HERALD_ALL set is the same mistake as NAME with --all.
	if _, errOut, code := run(t, "trigger", "PIN_CHANGE"); code == 0 || !strings.Contains(errOut, "--all") {
		t.Errorf("trigger NAME with HERALD_ALL: code %d, %q", code, errOut)
	}
}

// TestListenAndDemoIgnoreServerAddr: listen and demo take their addresses
// from HERALD_LISTEN_ADDR and HERALD_DEMO_ADDR, never from the server's
// HERALD_ADDR set in the same shell.
func TestListenAndDemoIgnoreServerAddr(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	t.Setenv("HERALD_ADDR", busy.Addr().String())

	for _, c := range []struct{ cmd, env string }{{"listen", "HERALD_LISTEN_ADDR"}, {"demo", "HERALD_DEMO_ADDR"}} {
		out, _, _ := run(t, c.cmd, "--help")
		if !strings.Contains(out, "(env "+c.env+")") || strings.Contains(out, "(env HERALD_ADDR)") {
			t.Errorf("%s --help does not name %s alone:\n%s", c.cmd, c.env, out)
		}
	}

	t.Setenv("HERALD_LISTEN_ADDR", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- Execute(ctx, []string{"listen"}, out, errOut) }()
	var addr string
	heraldtest.Eventually(t, 5*time.Second, "herald listen to start", func() bool {
		if m := regexp.MustCompile(`herald listen on http://(\S+):`).FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		return addr != "" || len(done) > 0
	})
	cancel()
	if code := <-done; code != 0 || addr == busy.Addr().String() {
		t.Fatalf("listen: code %d on %q, stderr %q", code, addr, errOut.String())
	}

	t.Setenv("HERALD_DEMO_ADDR", "127.0.0.1:0")
	t.Setenv("HERALD_DEMO_EXIT_AFTER_DELIVERY", "true")
	demoOut, demoErr, code := runBounded(t, "demo", "--timeout", "15s")
	if code != 0 || strings.Contains(demoOut, busy.Addr().String()) {
		t.Fatalf("demo with HERALD_ADDR set: code %d\n%s\n%s", code, demoOut, demoErr)
	}
}

// TestEventsVariant: herald events NAME --variant V shows that variant and
// its sample; a wrong variant or one without NAME is refused.
func TestEventsVariant(t *testing.T) {
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	want, err := cat.Sample("TRANSACTION", "REFUND")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "events", "TRANSACTION", "--variant", "REFUND")
	if code != 0 {
		t.Fatalf("events TRANSACTION --variant REFUND: %s", errOut)
	}
	if !strings.Contains(out, "sample of variant REFUND:") || !strings.Contains(out, `"transaction_type": "REFUND"`) ||
		strings.Contains(out, "variant PURCHASE") {
		t.Errorf("events TRANSACTION --variant REFUND printed:\n%s", out)
	}
	if !strings.Contains(strings.Join(strings.Fields(out), ""), strings.Join(strings.Fields(string(want)), "")) {
		t.Errorf("the printed sample is not REFUND's:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "TRANSACTION", "--variant", "NOPE"}, `no variant "NOPE"`},
		{[]string{"events", "CARD_STATUS_CHANGE", "--variant", "X"}, "has no variants"},
		{[]string{"events", "--variant", "REFUND"}, "needs the event NAME"},
	} {
		if _, errOut, code := run(t, c.args...); code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: code %d, %q; want %q", c.args, code, errOut, c.want)
		}
	}
}
