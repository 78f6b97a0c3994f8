package web

import (
	"bytes"
	"fmt"
	"html/template"
	"time"
)

// The delivery chart: attempts of one webhook, successes and failures per
// time bucket, drawn server-side as inline SVG (no script, no library).
// Successes are solid bars, failures hatched bars stacked on top, so the
// two read apart without colour; every bar has a text title and the numbers
// are also given as a table.

// bucket counts the attempts that started in [Start, Start+width).
type bucket struct {
	Start  time.Time
	OK     int
	Failed int
}

// bucketAttempts spreads attempts over n buckets of width ending at end
// (exclusive); attempts outside that window are left out.
func bucketAttempts(atts []attempt, end time.Time, n int, width time.Duration) []bucket {
	start := end.Add(-time.Duration(n) * width)
	out := make([]bucket, n)
	for i := range out {
		out[i].Start = start.Add(time.Duration(i) * width)
	}
	for _, a := range atts {
		t := parseAPITime(a.Time)
		if t.IsZero() || t.Before(start) || !t.Before(end) {
			continue
		}
		i := int(t.Sub(start) / width)
		if a.OK() {
			out[i].OK++
		} else {
			out[i].Failed++
		}
	}
	return out
}

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartW      = 720
	chartH      = 220
	chartLeft   = 44
	chartRight  = 10
	chartTop    = 12
	chartBottom = 34
)

// chartView is the chart template's data, every coordinate computed here.
type chartView struct {
	ID          string // prefix of element ids, unique in the page
	Title       string
	Desc        string
	W, H        int
	PlotX       int
	PlotY       int
	PlotW       int
	PlotH       int
	PlotRight   int
	Baseline    int
	Bars        []barView
	YTicks      []tickView
	XTicks      []tickView
	TotalOK     int
	TotalFailed int
	Buckets     []bucket
	Width       time.Duration
}

type barView struct {
	X, W          float64
	OKY, OKH      float64
	FailY, FailH  float64
	Label         string
	OK, Failed    int
	HasOK, HasBad bool
}

type tickView struct {
	X, Y  float64
	Label string
}

// niceMax rounds n up to 1, 2 or 5 times a power of ten (at least 1).
func niceMax(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// newChartView lays the buckets out.
func newChartView(id, title string, buckets []bucket, width time.Duration) chartView {
	v := chartView{
		ID: id, Title: title, W: chartW, H: chartH,
		PlotX: chartLeft, PlotY: chartTop, PlotW: chartW - chartLeft - chartRight, PlotH: chartH - chartTop - chartBottom,
		Buckets: buckets, Width: width,
	}
	v.Baseline, v.PlotRight = v.PlotY+v.PlotH, v.PlotX+v.PlotW
	most := 0
	for _, b := range buckets {
		v.TotalOK += b.OK
		v.TotalFailed += b.Failed
		most = max(most, b.OK+b.Failed)
	}
	top := niceMax(most)
	scale := float64(v.PlotH) / float64(top)
	ticks := []int{0, top}
	if top%2 == 0 {
		ticks = []int{0, top / 2, top}
	}
	for _, y := range ticks {
		v.YTicks = append(v.YTicks, tickView{X: float64(v.PlotX - 6), Y: round1(float64(v.Baseline) - float64(y)*scale), Label: fmt.Sprint(y)})
	}
	if len(buckets) == 0 {
		return v
	}
	slot := float64(v.PlotW) / float64(len(buckets))
	every := max(1, len(buckets)/8)
	for i, b := range buckets {
		x := float64(v.PlotX) + float64(i)*slot
		bar := barView{X: round1(x + slot*0.15), W: round1(slot * 0.7), OK: b.OK, Failed: b.Failed,
			HasOK: b.OK > 0, HasBad: b.Failed > 0}
		bar.OKH = round1(float64(b.OK) * scale)
		bar.OKY = round1(float64(v.Baseline) - bar.OKH)
		bar.FailH = round1(float64(b.Failed) * scale)
		bar.FailY = round1(bar.OKY - bar.FailH)
		end := b.Start.Add(width)
		bar.Label = fmt.Sprintf("%s–%s UTC: %d delivered, %d failed", b.Start.UTC().Format("Jan 2 15:04"), end.UTC().Format("15:04"), b.OK, b.Failed)
		v.Bars = append(v.Bars, bar)
		if i%every == 0 {
			v.XTicks = append(v.XTicks, tickView{X: round1(x + slot/2), Y: float64(v.Baseline + 16), Label: b.Start.UTC().Format("15:04")})
		}
	}
	first, last := buckets[0].Start, buckets[len(buckets)-1].Start.Add(width)
	v.Desc = fmt.Sprintf("%d successful and %d failed attempts between %s and %s UTC, in %d buckets of %s.",
		v.TotalOK, v.TotalFailed, first.UTC().Format("2006-01-02 15:04"), last.UTC().Format("2006-01-02 15:04"), len(buckets), width)
	return v
}

func round1(f float64) float64 {
	if f < 0 {
		return -round1(-f)
	}
	return float64(int64(f*10+0.5)) / 10
}

// renderChart executes the chart template alone (used by tests; pages
// include the "chart" template directly).
func (h *handler) renderChart(v chartView) (template.HTML, error) {
	var buf bytes.Buffer
	if err := h.partials.ExecuteTemplate(&buf, "chart", v); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil // produced by html/template: escaped
}
