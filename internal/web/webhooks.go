package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// Page and sample sizes.
const (
	webhooksPerPage = 50
	// recentNotifications is how many of a webhook's newest notifications
	// the list page reads to compute its recent success rate.
	recentNotifications = 20
	// recentAttempts is how many newest attempts make the success rate.
	recentAttempts = 50
	// chartPages bounds the search pages (of 1000) read for one chart.
	chartPages   = 5
	chartBuckets = 24
	chartBucket  = time.Hour
)

// stats sums up a webhook's recent attempts.
type stats struct {
	Attempts  int
	Successes int
	Last      *attempt
}

// Rate is the success rate as text ("—" with no attempts).
func (s stats) Rate() string {
	if s.Attempts == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(s.Successes)/float64(s.Attempts))
}

// Outcome is the last attempt's result as a status key.
func (s stats) Outcome() string {
	if s.Last == nil {
		return ""
	}
	if s.Last.OK() {
		return "success"
	}
	return "failure"
}

// attemptsOf lists the attempts of notifications, newest first.
func attemptsOf(notes []notification) []attempt {
	var out []attempt
	for _, n := range notes {
		out = append(out, n.Attempts...)
	}
	sort.SliceStable(out, func(i, j int) bool { return parseAPITime(out[i].Time).After(parseAPITime(out[j].Time)) })
	return out
}

// statsOf computes stats over at most the newest n attempts.
func statsOf(atts []attempt, n int) stats {
	var s stats
	if len(atts) > n {
		atts = atts[:n]
	}
	for i := range atts {
		s.Attempts++
		if atts[i].OK() {
			s.Successes++
		}
	}
	if len(atts) > 0 {
		s.Last = &atts[0]
	}
	return s
}

type webhookRow struct {
	Hook  webhook
	Stats stats
}

// webhookList shows the tenant's webhooks with status and health.
func (h *handler) webhookList(w http.ResponseWriter, r *http.Request, rq *request) {
	after := r.URL.Query().Get("after")
	hooks, pg, err := rq.api.webhooks(r.Context(), webhooksPerPage, after)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	rows := make([]webhookRow, len(hooks))
	for i, hk := range hooks {
		notes, _, err := rq.api.search(r.Context(), searchQuery{WebhookID: hk.ID, Limit: recentNotifications})
		if err != nil {
			h.apiFailure(w, r, rq, err)
			return
		}
		rows[i] = webhookRow{Hook: hk, Stats: statsOf(attemptsOf(notes), recentAttempts)}
	}
	h.render(w, r, rq, http.StatusOK, "webhooks", view{Title: "Webhooks", Nav: "webhooks", Data: struct {
		Rows   []webhookRow
		Paging paging
		After  string
		Sample int
	}{rows, pg, after, recentAttempts}})
}

type webhookPageData struct {
	Hook         webhook
	Stats        stats
	Chart        chartView
	ChartPartial bool // the chart read only the newest chartPages*1000 notifications
	Recent       notesTable
	Expired      int
	ExpiredMore  bool
}

// webhookPage shows one webhook: health, configuration (no secrets), the
// delivery chart of the last 24 hours, recent notifications and actions.
func (h *handler) webhookPage(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	id := r.PathValue("id")
	hk, err := rq.api.webhook(ctx, id)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	d := webhookPageData{Hook: hk}
	now := h.now().UTC()
	end := now.Truncate(chartBucket).Add(chartBucket)
	start := end.Add(-chartBuckets * chartBucket)
	window, partial, err := h.searchAll(ctx, rq, searchQuery{WebhookID: id, From: start.Format(time.RFC3339Nano)})
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	d.ChartPartial = partial
	d.Chart = newChartView("delivery", "Delivery attempts per hour, last 24 hours",
		bucketAttempts(attemptsOf(window), end, chartBuckets, chartBucket), chartBucket)
	recent, _, err := rq.api.search(ctx, searchQuery{WebhookID: id, Limit: 15})
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	d.Stats = statsOf(attemptsOf(recent), recentAttempts)
	d.Recent = notesTable{Caption: "The newest notifications of this webhook", Prefix: h.prefix, Now: now, Notes: recent}
	expired, pg, err := rq.api.search(ctx, searchQuery{WebhookID: id, Status: "EXPIRED", Limit: 100})
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	d.Expired, d.ExpiredMore = len(expired), pg.HasMore
	h.render(w, r, rq, http.StatusOK, "webhook", view{Title: "Webhook " + hk.Endpoint, Nav: "webhooks", Data: d})
}

// searchAll reads up to chartPages pages of 1000 notifications; partial
// says there were more.
func (h *handler) searchAll(ctx context.Context, rq *request, q searchQuery) ([]notification, bool, error) {
	q.Limit = 1000
	var all []notification
	for range chartPages {
		notes, pg, err := rq.api.search(ctx, q)
		if err != nil {
			return nil, false, err
		}
		all = append(all, notes...)
		if !pg.HasMore {
			return all, false, nil
		}
		q.After = pg.After
	}
	return all, true, nil
}

// pingAction sends one ping and shows its outcome on the webhook's page.
func (h *handler) pingAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	res, err := rq.api.ping(r.Context(), id)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	f := flash{OK: res.Success}
	if res.Success {
		f.Text = fmt.Sprintf("Ping succeeded: HTTP %d in %s.", res.StatusCode, ms(res.DurationMS))
		f.Detail = res.ResponseBody
	} else {
		f.Text = fmt.Sprintf("Ping failed (%s) after %s.", res.ErrorKind, ms(res.DurationMS))
		if res.StatusCode != 0 {
			f.Text = fmt.Sprintf("Ping failed: HTTP %d (%s) after %s.", res.StatusCode, res.ErrorKind, ms(res.DurationMS))
		}
		f.Detail = res.Error
		if res.ResponseBody != "" {
			f.Detail += "\n" + res.ResponseBody
		}
	}
	h.setFlash(w, r, f)
	h.redirect(w, r, "/webhooks/"+url.PathEscape(id))
}

// statusAction disables or enables a webhook.
func (h *handler) statusAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id, status := r.PathValue("id"), r.PostFormValue("status")
	if status != "ACTIVE" && status != "DISABLED" {
		h.renderError(w, r, rq, http.StatusBadRequest, "The status must be ACTIVE or DISABLED.")
		return
	}
	if _, err := rq.api.setStatus(r.Context(), id, status); err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	text := "Webhook disabled: new notifications wait until it is enabled."
	if status == "ACTIVE" {
		text = "Webhook enabled: its circuit is closed and waiting notifications are sent."
	}
	h.setFlash(w, r, flash{OK: true, Text: text})
	h.redirect(w, r, "/webhooks/"+url.PathEscape(id))
}

// sendExpiredAction re-sends every EXPIRED notification of a webhook.
func (h *handler) sendExpiredAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	n, err := rq.api.sendExpired(r.Context(), id, nil)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	h.setFlash(w, r, flash{OK: true, Text: fmt.Sprintf("Re-sent %d expired notification%s.", n, plural(n))})
	h.redirect(w, r, "/webhooks/"+url.PathEscape(id))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
