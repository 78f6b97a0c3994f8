package cli

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/catalog"
)

// herald demo --exit-after-delivery publishes every catalogue sample, and
// each arrives once at its receiver, signature verified and parsed as its
// event and variant; the summary, dashboard and admin key are printed and
// the temporary data directory is gone afterwards.
func TestDemoDeliversEverySample(t *testing.T) {
	out, errOut, code := run(t, "demo", "--exit-after-delivery", "--addr", "127.0.0.1:0", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	samples := catalogueSamples(cat)
	var want []string
	for _, ty := range cat.Types() {
		if len(ty.Variants) == 0 {
			want = append(want, ty.Name)
		}
		for _, v := range ty.Variants {
			want = append(want, ty.Name+"/"+v.Name)
		}
	}
	if len(want) != len(samples) {
		t.Fatalf("%d samples for %d events and variants", len(samples), len(want))
	}
	ids := map[string]bool{}
	line := regexp.MustCompile(`(?m)^\S+ POST webhook-id=(\S+) Herald-Event=(\S+) Herald-Attempt=\d+ event=(\S+) signature=(\S+) -> (.*)$`)
	got := map[string]int{}
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		id, event, parsed, sig, answer := m[1], m[2], m[3], m[4], m[5]
		if sig != "verified" || answer != "204 No Content" || !strings.HasPrefix(parsed, event) {
			t.Errorf("delivery %s: signature %s, answered %s, event %s parsed as %s", id, sig, answer, event, parsed)
		}
		if ids[id] {
			t.Errorf("notification %s arrived twice", id)
		}
		ids[id] = true
		got[parsed]++
	}
	for _, w := range want {
		if got[w] != 1 {
			t.Errorf("%s arrived %d times, want once", w, got[w])
		}
	}
	if len(ids) != len(want) {
		t.Errorf("%d deliveries shown, want %d:\n%s", len(ids), len(want), out)
	}
	for _, re := range []string{
		fmt.Sprintf(`\b%[1]d delivered of %[1]d \(%[1]d verified`, len(want)),
		`Dashboard: http://127\.0\.0\.1:\d+/ui`,
		`Admin key: hk_\S{40,}`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("demo output lacks %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, `"card_status_change"`) {
		t.Errorf("demo printed bodies without --bodies")
	}
	m := regexp.MustCompile(`temporary data in (\S+),`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("demo did not say where its data is:\n%s", out)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the demo's data directory %s is still there (%v)", m[1], err)
	}
}

// An address in use is reported with the way out.
func TestDemoAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, errOut, code := run(t, "demo", "--exit-after-delivery", "--addr", ln.Addr().String())
	if code == 0 || !strings.Contains(errOut, "--addr 127.0.0.1:0") {
		t.Errorf("demo on a busy address: exit %d, %q", code, errOut)
	}
}
