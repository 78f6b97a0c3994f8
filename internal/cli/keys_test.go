package cli

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestAdminKeysAreServiceWide: an admin key is made as a service-wide key
// (keys create --admin), never as a tenant's (--role admin is refused), is
// listed as service-wide, and acts on any tenant.
func TestAdminKeysAreServiceWide(t *testing.T) {
	dir := newDatabase(t)
	if _, errOut, code := run(t, "tenants", "create", "acme", "--data", dir); code != 0 {
		t.Fatalf("tenants create: %s", errOut)
	}
	for _, args := range [][]string{
		{"keys", "create", "acme", "--role", "admin"},
		{"keys", "create", "--role", "admin"},
		{"keys", "create", "acme", "--admin"},
		{"keys", "create", "--admin", "--role", "client"},
	} {
		_, errOut, code := run(t, append(args, "--data", dir)...)
		if code == 0 || !strings.Contains(errOut, "herald keys create --admin") {
			t.Errorf("%v: code %d, %q; want a refusal pointing to keys create --admin", args, code, errOut)
		}
	}
	if _, errOut, code := run(t, "keys", "create", "--data", dir); code == 0 || !strings.Contains(errOut, "TENANT is required") {
		t.Errorf("keys create without TENANT: code %d, %q", code, errOut)
	}
	if out, _, _ := run(t, "keys", "list", "--data", dir); strings.Contains(out, "admin") {
		t.Fatalf("refused requests created an admin key:\n%s", out)
	}

	out, errOut, code := run(t, "keys", "create", "--admin", "--data", dir)
	m := regexp.MustCompile(`^admin key (\S+), service-wide \(shown once\): (hk_\S{40,})\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("keys create --admin = %d %q %q", code, out, errOut)
	}
	id, key := m[1], m[2]
	out, _, _ = run(t, "keys", "list", "--data", dir)
	row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+service-wide\s+admin\s`)
	if !row.MatchString(out) {
		t.Errorf("keys list does not show %s as a service-wide admin key:\n%s", id, out)
	}
	for _, tenant := range []string{"acme", "default"} {
		if out, _, _ := run(t, "keys", "list", tenant, "--data", dir); strings.Contains(out, id) {
			t.Errorf("keys list %s shows the service-wide admin key as the tenant's:\n%s", tenant, out)
		}
	}

	// The key administers the service and acts on any tenant.
	in := heraldtest.Start(t, heraldtest.Options{DataDir: dir})
	for _, tenant := range []string{"acme", "default"} {
		if r := in.Do(t, key, "GET", "/webhooks", nil, "Herald-Tenant", tenant); r.Status != http.StatusOK {
			t.Errorf("admin key on tenant %s: %d %s", tenant, r.Status, r.Body)
		}
	}
	if r := in.Do(t, key, "GET", "/tenants", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"acme"`) {
		t.Errorf("admin key lists tenants: %d %s", r.Status, r.Body)
	}
}
