package web

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func at(t time.Time, ok bool) attempt {
	a := attempt{Time: t.UTC().Format(time.RFC3339Nano), StatusCode: 200}
	if !ok {
		a.StatusCode, a.ErrorKind = 500, "http_status"
	}
	return a
}

func TestBucketAttempts(t *testing.T) {
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	atts := []attempt{
		at(end.Add(-30*time.Minute), true),  // last bucket
		at(end.Add(-59*time.Minute), false), // last bucket
		at(end.Add(-90*time.Minute), true),  // second to last
		at(end.Add(-24*time.Hour), true),    // first bucket, first instant
		at(end.Add(-25*time.Hour), true),    // before the window
		at(end, false),                      // the end is exclusive
		{Time: "not a time"},
	}
	b := bucketAttempts(atts, end, 24, time.Hour)
	if len(b) != 24 || !b[0].Start.Equal(end.Add(-24*time.Hour)) || !b[23].Start.Equal(end.Add(-time.Hour)) {
		t.Fatalf("buckets %v", b)
	}
	if b[23].OK != 1 || b[23].Failed != 1 || b[22].OK != 1 || b[22].Failed != 0 || b[0].OK != 1 {
		t.Fatalf("counts: first %+v, last two %+v %+v", b[0], b[22], b[23])
	}
	total := 0
	for _, x := range b {
		total += x.OK + x.Failed
	}
	if total != 4 {
		t.Fatalf("%d attempts counted, want 4", total)
	}
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 5: 5, 6: 10, 11: 20, 21: 50, 51: 100, 999: 1000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestChartSVG renders the chart and checks the bars' sizes, the text
// alternatives and that failures differ from successes by more than colour.
func TestChartSVG(t *testing.T) {
	h := newHandler(Config{})
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var atts []attempt
	for range 8 {
		atts = append(atts, at(end.Add(-10*time.Minute), true)) // 8 successes in the last hour
	}
	for range 2 {
		atts = append(atts, at(end.Add(-10*time.Minute), false)) // and 2 failures
	}
	atts = append(atts, at(end.Add(-5*time.Hour), false)) // 1 failure five hours earlier
	v := newChartView("c1", "Deliveries of <b>hook</b>", bucketAttempts(atts, end, 24, time.Hour), time.Hour)
	if v.TotalOK != 8 || v.TotalFailed != 3 {
		t.Fatalf("totals %d/%d", v.TotalOK, v.TotalFailed)
	}
	out, err := h.renderChart(v)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(out)
	for _, want := range []string{
		`<svg viewBox="0 0 720 220" role="img" aria-labelledby="c1-title c1-desc"`,
		`<title id="c1-title">Deliveries of &lt;b&gt;hook&lt;/b&gt;</title>`,
		"8 successful and 3 failed attempts between 2026-02-28 12:00 and 2026-03-01 12:00 UTC",
		`<pattern id="c1-hatch"`,
		"<title>Mar 1 11:00–12:00 UTC: 8 delivered, 2 failed</title>",
		"<title>Mar 1 07:00–08:00 UTC: 0 delivered, 1 failed</title>",
		"delivered (solid): <strong>8</strong>",
		"failed (hatched): <strong>3</strong>",
		"<tr><td>Mar 1 11:00</td><td>8</td><td>2</td></tr>",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Contains(svg, "<b>") {
		t.Error("the title is not escaped")
	}
	// One solid rect per bucket with successes, one hatched per bucket with
	// failures (plus one of each in the legend).
	ok := regexp.MustCompile(`<rect class="ok" x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)">`).FindAllStringSubmatch(svg, -1)
	fail := regexp.MustCompile(`<rect class="fail" fill="url\(#c1-hatch\)" x="[0-9.]+" y="([0-9.]+)" width="[0-9.]+" height="([0-9.]+)">`).FindAllStringSubmatch(svg, -1)
	if len(ok) != 1 || len(fail) != 2 {
		t.Fatalf("%d solid and %d hatched bars, want 1 and 2:\n%s", len(ok), len(fail), svg)
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// The scale tops at 10 over a 174-unit plot: 8 -> 139.2, 2 -> 34.8, 1 -> 17.4.
	if h := num(ok[0][2]); h != 139.2 {
		t.Errorf("8 successes drawn %v high, want 139.2", h)
	}
	if h := num(fail[1][2]); h != 34.8 {
		t.Errorf("2 failures drawn %v high, want 34.8", h)
	}
	if y := num(fail[1][1]) + num(fail[1][2]); y != num(ok[0][1]) {
		t.Errorf("failures (ending at %v) are not stacked on the successes (starting at %v)", y, num(ok[0][1]))
	}
	if h := num(fail[0][2]); h != 17.4 {
		t.Errorf("1 failure drawn %v high, want 17.4", h)
	}
	for _, want := range []string{">0</text>", ">5</text>", ">10</text>", ">12:00</text>", ">15:00</text>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("axis label %q missing", want)
		}
	}
}

func TestChartEmpty(t *testing.T) {
	h := newHandler(Config{})
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newChartView("c", "Empty", bucketAttempts(nil, end, 24, time.Hour), time.Hour)
	out, err := h.renderChart(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), `<rect class="ok" x=`) || !strings.Contains(string(out), "0 successful and 0 failed") {
		t.Errorf("empty chart:\n%s", out)
	}
}

func TestSessionIDAndCSRF(t *testing.T) {
	id, hash, err := newSessionID()
	if err != nil {
		t.Fatal(err)
	}
	id2, hash2, _ := newSessionID()
	if !validSessionID(id) || len(id) != sessionIDLen || id == id2 || hash == hash2 {
		t.Fatalf("session ids %q and %q (hashes %s, %s): want two fresh valid ids", id, id2, hash, hash2)
	}
	if hash != hashSessionID(id) || strings.Contains(hash, id) || len(hash) != 64 {
		t.Fatalf("hash %q of %q is not its hex SHA-256", hash, id)
	}
	for _, bad := range []string{"", "short", id[:42], id + "A", strings.Repeat("!", 43), "v1." + id[3:]} {
		if validSessionID(bad) {
			t.Errorf("validSessionID(%q)", bad)
		}
	}
	s := &session{id: id}
	if !s.checkCSRF(s.csrfToken()) || s.checkCSRF("") {
		t.Fatal("CSRF check")
	}
	if other := (&session{id: id2}); other.checkCSRF(s.csrfToken()) {
		t.Error("a token works with another session")
	}
	if strings.Contains(s.csrfToken(), id) || s.csrfToken() == hash {
		t.Error("the CSRF token gives away the session id or its stored hash")
	}
}

func TestUnescapeHTMLRunes(t *testing.T) {
	for in, want := range map[string]string{
		`{"a": "\u003cb\u003e \u0026"}`: `{"a": "<b> &"}`,
		`{"a": "\\u003c"}`:              `{"a": "\\u003c"}`, // an escaped backslash, then text
		`{"a": "\"\u003e"}`:             `{"a": "\">"}`,
		`{"a": "\u00e9"}`:               `{"a": "\u00e9"}`,
	} {
		if got := unescapeHTMLRunes(in); got != want {
			t.Errorf("unescapeHTMLRunes(%s) = %s, want %s", in, got, want)
		}
	}
}
