package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// newDatabase is a fresh data directory with an empty Herald database, as
// herald migrate makes it (administration commands need one).
func newDatabase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, errOut, code := run(t, "migrate", "--data", dir); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	return dir
}

func TestTenantsAndKeysCommands(t *testing.T) {
	dir := newDatabase(t)
	out, errOut, code := run(t, "tenants", "create", "acme", "--data", dir)
	if code != 0 {
		t.Fatalf("tenants create: %d %s", code, errOut)
	}
	if !regexp.MustCompile(`client key \(shown once\): hk_\S{40,}`).MatchString(out) {
		t.Errorf("tenants create printed %q, want the client key", out)
	}
	if _, errOut, code := run(t, "tenants", "create", "acme", "--data", dir); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate tenant: code %d, %q", code, errOut)
	}
	out, _, code = run(t, "tenants", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "acme") {
		t.Errorf("tenants list = %d %q", code, out)
	}
	out, errOut, code = run(t, "keys", "create", "acme", "--role", "publisher", "--data", dir)
	if code != 0 || !strings.Contains(out, "publisher key") {
		t.Fatalf("keys create = %d %q %q", code, out, errOut)
	}
	keyID := strings.Fields(out)[2]
	if _, errOut, code := run(t, "keys", "create", "acme", "--role", "root", "--data", dir); code == 0 || !strings.Contains(errOut, "--role") {
		t.Errorf("bad role: code %d, %q", code, errOut)
	}
	if _, _, code := run(t, "keys", "revoke", keyID, "--data", dir); code != 0 {
		t.Errorf("keys revoke failed")
	}
	out, _, _ = run(t, "keys", "list", "acme", "--data", dir)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 {
		t.Errorf("keys list has %d lines, want header + client + publisher:\n%s", len(lines), out)
	}
	if !strings.Contains(out, keyID) || strings.Count(out, "  -\n") != 1 {
		t.Errorf("keys list should show the publisher key revoked and the client key not:\n%s", out)
	}
	if _, errOut, code := run(t, "keys", "revoke", "nope", "--data", dir); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("revoke unknown key: code %d, %q", code, errOut)
	}
}

func TestEnvironmentFillsUnsetFlags(t *testing.T) {
	dir := newDatabase(t)
	t.Setenv("HERALD_DATA", dir)
	if _, errOut, code := run(t, "tenants", "create", "from-env"); code != 0 {
		t.Fatalf("tenants create with HERALD_DATA: %s", errOut)
	}
	out, _, _ := run(t, "tenants", "list", "--data", dir)
	if !strings.Contains(out, "from-env") {
		t.Errorf("HERALD_DATA was not used: %q", out)
	}
	// A flag on the command line wins over the environment.
	other := newDatabase(t)
	run(t, "tenants", "create", "from-flag", "--data", other)
	if out, _, _ := run(t, "tenants", "list"); strings.Contains(out, "from-flag") {
		t.Errorf("--data was ignored in favour of HERALD_DATA")
	}
	t.Setenv("HERALD_RETRY_SCHEDULE", "1s,nope")
	if _, errOut, code := run(t, "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"); code == 0 || !strings.Contains(errOut, "retry schedule") {
		t.Errorf("bad HERALD_RETRY_SCHEDULE: code %d, %q", code, errOut)
	}
}

func TestServeHelpListsEnvironment(t *testing.T) {
	out, _, code := run(t, "serve", "--help")
	if code != 0 {
		t.Fatal("serve --help failed")
	}
	for _, env := range []string{"HERALD_ADDR", "HERALD_DATA", "HERALD_ADMIN_KEY", "HERALD_RETRY_SCHEDULE", "HERALD_ALLOW_HTTP", "HERALD_ALLOW_PRIVATE_TARGETS", "HERALD_DEV"} {
		if !strings.Contains(out, env) {
			t.Errorf("serve --help lacks %s", env)
		}
	}
}

func TestSecretsCommands(t *testing.T) {
	out, _, code := run(t, "secrets", "newkey")
	key := strings.TrimSpace(out)
	if code != 0 || len(key) != 44 {
		t.Fatalf("secrets newkey = %d %q", code, out)
	}
	t.Setenv("HERALD_ENCRYPTION_KEY", key)
	dir := newDatabase(t)
	if _, errOut, code := run(t, "tenants", "create", "acme", "--data", dir); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code := run(t, "secrets", "reseal", "--data", dir)
	if code != 0 || !strings.Contains(out, "re-encrypted the secrets of 0 webhooks") {
		t.Errorf("secrets reseal = %d %q %q", code, out, errOut)
	}
}
