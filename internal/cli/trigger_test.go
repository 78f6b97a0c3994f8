package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// TestTriggerAllDeliversOneOfEach: `herald trigger --all` publishes every
// sample, and a webhook subscribed to "*" receives one of each.
func TestTriggerAllDeliversOneOfEach(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	var mu sync.Mutex
	got := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get("Herald-Event")]++
		mu.Unlock()
	}))
	defer rc.Close()
	if resp := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": rc.URL, "events": []string{"*"}}); resp.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", resp.Status, resp.Body)
	}
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	total := 0
	for _, ty := range cat.Types() {
		want[ty.Name] = max(len(ty.Variants), 1)
		total += want[ty.Name]
	}

	out, errOut, code := run(t, "trigger", "--all", "--url", in.URL, "--api-key", heraldtest.AdminKey)
	if code != 0 {
		t.Fatalf("trigger --all: %d\n%s\n%s", code, out, errOut)
	}
	if lines := strings.Count(out, "\n"); lines != total || strings.Count(out, " 202 ") != total {
		t.Errorf("trigger --all printed %d lines (%d accepted), want %d:\n%s", lines, strings.Count(out, " 202 "), total, out)
	}
	heraldtest.Eventually(t, 10*time.Second, "one delivery per sample", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range got {
			n += c
		}
		return n >= total
	})
	mu.Lock()
	defer mu.Unlock()
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s delivered %d times, want %d", name, got[name], n)
		}
	}
}

func TestTriggerOneVariantAndErrors(t *testing.T) {
	in := heraldtest.Start(t, heraldtest.Options{})
	out, errOut, code := run(t, "trigger", "TRANSACTION", "--variant", "WALLET_DEBIT", "--url", in.URL, "--api-key", heraldtest.AdminKey)
	if code != 0 || !strings.Contains(out, "TRANSACTION WALLET_DEBIT") || !strings.Contains(out, `"event_id"`) {
		t.Fatalf("trigger one variant: %d %q %q", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trigger", "--url", in.URL, "--api-key", heraldtest.AdminKey}, "give one event NAME"},
		{[]string{"trigger", "NOPE", "--url", in.URL, "--api-key", heraldtest.AdminKey}, `unknown event "NOPE"`},
		{[]string{"trigger", "TRANSACTION", "--variant", "NOPE", "--url", in.URL, "--api-key", heraldtest.AdminKey}, "has no variant"},
		{[]string{"trigger", "PIN_CHANGE", "--url", in.URL, "--api-key", "hk_wrong"}, "not accepted"},
		{[]string{"trigger", "PIN_CHANGE", "--url", in.URL, "--data", t.TempDir()}, "no API key"},
	} {
		_, errOut, code := run(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: code %d, stderr %q; want it to mention %q", tc.args, code, errOut, tc.want)
		}
	}
	// The key is read from <data>/admin.key when none is given.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/admin.key", []byte(heraldtest.AdminKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "trigger", "PIN_CHANGE", "--url", in.URL, "--data", dir); code != 0 {
		t.Errorf("trigger with admin.key: %s", errOut)
	}
}

func TestEventsCommand(t *testing.T) {
	out, _, code := run(t, "events")
	if code != 0 || !strings.Contains(out, "NI_TOKEN_NOTIFICATION") || !strings.Contains(out, "PURCHASE") {
		t.Fatalf("events: %d\n%s", code, out)
	}
	out, _, code = run(t, "events", "KYC_RESULT")
	if code != 0 || !strings.Contains(out, "variant PASS") || !strings.Contains(out, `"kyc_id"`) {
		t.Fatalf("events KYC_RESULT: %d\n%s", code, out)
	}
	if _, errOut, code := run(t, "events", "NOPE"); code == 0 || !strings.Contains(errOut, "unknown event") {
		t.Errorf("events NOPE: %d %q", code, errOut)
	}
}
