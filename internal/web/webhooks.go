package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// Page and sample sizes.
const (
	webhooksPerPage = 50
	// recentAttempts is how many of a webhook's newest attempts make its
	// success rate.
	recentAttempts = 50
	// pendingCap bounds the count of a webhook's pending notifications.
	pendingCap = 100_000
	// chartPages bounds the search pages (of 1000) read for one chart.
	chartPages   = 5
	chartBuckets = 24
	chartBucket  = time.Hour
)

// stats sums up a webhook's recent activity: its newest attempts (whichever
// notifications they belong to) and its pending notifications.
type stats struct {
	Attempts      int
	Successes     int
	Last          *attempt
	Pending       int
	PendingCapped bool
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

// PendingText is the count of pending notifications ("100000+" at the cap).
func (s stats) PendingText() string {
	if s.PendingCapped {
		return fmt.Sprintf("%d+", s.Pending)
	}
	return fmt.Sprint(s.Pending)
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

// statsOf computes the stats of a webhook's activity.
func statsOf(act store.WebhookActivity) stats {
	s := stats{Pending: act.Pending, PendingCapped: act.PendingCapped}
	for i, a := range act.Attempts {
		s.Attempts++
		if a.ErrorKind == "" {
			s.Successes++
		}
		if i == 0 {
			last := attemptOf(a)
			s.Last = &last
		}
	}
	return s
}

// attemptOf is a stored attempt as the API shows it.
func attemptOf(a store.Attempt) attempt {
	return attempt{Attempt: a.Number, Time: a.Started.UTC().Format(time.RFC3339Nano),
		DurationMS: float64(a.Duration.Microseconds()) / 1000, StatusCode: a.StatusCode,
		ResponseBody: a.ResponseBody, ErrorKind: a.ErrorKind, Error: a.Error}
}

// activity reads the stats of webhooks the API has just shown rq's key.
// The store read is scoped to the key's tenant (for an admin key, the one it
// acts on) as the API's was.
func (h *handler) activity(ctx context.Context, rq *request, hooks ...webhook) ([]stats, error) {
	tenantID := rq.sess.principal().TenantID
	if rq.sess.Admin() {
		name := rq.sess.Tenant()
		if name == "" {
			name = "default"
		}
		t, err := h.store.Tenant(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", name, err)
		}
		tenantID = t.ID
	}
	out := make([]stats, len(hooks))
	for i, hk := range hooks {
		act, err := h.store.WebhookActivity(ctx, tenantID, hk.ID, recentAttempts, pendingCap)
		if err != nil {
			return nil, fmt.Errorf("activity of webhook %s: %w", hk.ID, err)
		}
		out[i] = statsOf(act)
	}
	return out, nil
}

// nextProbe says when an open circuit lets its next probe through: the
// time while it is ahead, and otherwise what the probe waits for (never a
// past time).
func nextProbe(hl health, now time.Time, pending int) string {
	if hl.Circuit != "open" {
		return ""
	}
	if t := parseAPITime(hl.NextProbe); t.After(now) {
		return fmtTime(hl.NextProbe) + " (" + ago(now, hl.NextProbe) + ")"
	}
	if pending > 0 {
		return "due now: the next attempt is the probe"
	}
	return "with the next notification (none is pending)"
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
	st, err := h.activity(r.Context(), rq, hooks...)
	if err != nil {
		h.storeFailure(w, r, rq, err)
		return
	}
	rows := make([]webhookRow, len(hooks))
	refresh := 0
	for i, hk := range hooks {
		rows[i] = webhookRow{Hook: hk, Stats: st[i]}
		if st[i].Pending > 0 && hk.Status == "ACTIVE" {
			refresh = listRefresh // their outcomes are on their way
		}
	}
	h.render(w, r, rq, http.StatusOK, "webhooks", view{Title: "Webhooks", Nav: "webhooks", Refresh: refresh, Data: struct {
		Rows   []webhookRow
		Paging paging
		After  string
		Sample int
	}{rows, pg, after, recentAttempts}})
}

type webhookPageData struct {
	Hook         webhook
	Stats        stats
	NextProbe    string // "" while the circuit is closed
	Chart        chartView
	ChartPartial bool // the chart read only the newest chartPages*1000 notifications
	Recent       notesTable
	Expired      int
	ExpiredMore  bool
	// ReplayEvents are the events the replay form offers: those of the
	// catalogue the webhook subscribes to.
	ReplayEvents []string
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
	st, err := h.activity(ctx, rq, hk)
	if err != nil {
		h.storeFailure(w, r, rq, err)
		return
	}
	d.Stats, d.NextProbe = st[0], nextProbe(hk.Health, now, st[0].Pending)
	d.Recent = notesTable{Caption: "The newest notifications of this webhook", Prefix: h.prefix, Now: now, Notes: recent}
	expired, pg, err := rq.api.search(ctx, searchQuery{WebhookID: id, Status: "EXPIRED", Limit: 100})
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	d.Expired, d.ExpiredMore = len(expired), pg.HasMore
	cat, err := h.eventCatalogue(r, rq)
	if err != nil {
		h.apiFailure(w, r, rq, err)
		return
	}
	d.ReplayEvents = replayEvents(cat, hk)
	v := view{Title: "Webhook " + hk.Endpoint, Nav: "webhooks", Data: d}
	if d.Stats.Pending > 0 && hk.Status == "ACTIVE" {
		v.Refresh = listRefresh
	}
	h.render(w, r, rq, http.StatusOK, "webhook", v)
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
