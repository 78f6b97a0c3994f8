package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string // the active navigation entry
	Prefix  string
	Session *sessionView // nil when signed out
	CSRF    string
	Flash   *flash
	// Refresh reloads the page after this many seconds (0: never), so a
	// notification being delivered shows its outcome without script.
	Refresh int
	// Now is the time the page is rendered at (for "3m ago").
	Now  time.Time
	Data any
}

type sessionView struct {
	KeyHint  string
	Tenant   string
	Admin    bool
	Tenants  []tenant
	Portal   bool // a portal link opened the session
	ReadOnly bool
}

// parseTemplates reads the embedded templates: layout.html and
// partials.html are shared, every other file is one page.
func (h *handler) parseTemplates() {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html", "assets/templates/partials.html"))
	h.partials = base
	files, err := fs.Glob(assets, "assets/templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		h.pages[name] = template.Must(template.Must(base.Clone()).ParseFS(assets, f))
	}
}

// render writes a page; the template runs into a buffer first so a failure
// never leaves half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, rq *request, status int, page string, v view) {
	v.Prefix, v.Now = h.prefix, h.now()
	if v.Flash == nil {
		v.Flash = h.takeFlash(w, r)
	}
	if rq != nil {
		v.Session = h.sessionView(r, rq)
		v.CSRF = rq.sess.csrfToken()
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("dashboard template", "page", page, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *handler) sessionView(r *http.Request, rq *request) *sessionView {
	sv := &sessionView{KeyHint: rq.sess.key.Prefix + "…", Tenant: rq.sess.Tenant(), Admin: rq.sess.Admin(),
		Portal: rq.sess.Portal(), ReadOnly: rq.sess.ReadOnly()}
	if sv.Portal {
		sv.Tenant = rq.sess.rec.PortalTenant
		if t, err := h.store.Tenant(r.Context(), sv.Tenant); err == nil {
			sv.Tenant = t.Name
		}
	}
	if sv.Admin {
		if sv.Tenant == "" {
			sv.Tenant = "default"
		}
		ts, err := rq.api.tenants(r.Context())
		if err == nil {
			sv.Tenants = ts
		}
		found := false
		for _, t := range sv.Tenants {
			found = found || t.Name == sv.Tenant || t.ID == sv.Tenant
		}
		if !found { // beyond the first page of tenants, or named by id
			sv.Tenants = append([]tenant{{Name: sv.Tenant}}, sv.Tenants...)
		}
	}
	return sv
}

// renderError shows an error page (with the navigation when signed in:
// rq is nil otherwise).
func (h *handler) renderError(w http.ResponseWriter, r *http.Request, rq *request, status int, msg string) {
	h.render(w, r, rq, status, "error", view{Title: http.StatusText(status), Data: struct {
		Status  int
		Message string
	}{status, msg}})
}

// label is how a status reads: a symbol and a word, never colour alone.
type label struct {
	Symbol string
	Text   string
	Class  string
}

var labels = map[string]label{
	"ACTIVE":    {"✓", "ACTIVE", "ok"},
	"DISABLED":  {"■", "DISABLED", "off"},
	"FAILING":   {"⚠", "FAILING", "bad"},
	"DELIVERED": {"✓", "DELIVERED", "ok"},
	"EXPIRED":   {"✗", "EXPIRED", "bad"},
	"PENDING":   {"…", "PENDING", "wait"},
	"CANCELLED": {"–", "CANCELLED", "off"},
	"closed":    {"✓", "closed", "ok"},
	"open":      {"⚠", "open", "bad"},
	"success":   {"✓", "success", "ok"},
	"failure":   {"✗", "failure", "bad"},
}

func statusLabel(s string) label {
	if l, ok := labels[s]; ok {
		return l
	}
	return label{"?", s, "other"}
}

// fmtTime shows an API time in UTC, to the second.
func fmtTime(s string) string {
	t := parseAPITime(s)
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// ago says how long before now a time was (or how long until it is).
func ago(now time.Time, s string) string {
	t := parseAPITime(s)
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds %s", int(d/time.Second), suffix)
	case d < time.Hour:
		return fmt.Sprintf("%dm %s", int(d/time.Minute), suffix)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %s", int(d/time.Hour), suffix)
	default:
		return fmt.Sprintf("%dd %s", int(d/(24*time.Hour)), suffix)
	}
}

// prettyJSON indents a payload for reading; invalid JSON is shown as is.
// The API's encoder writes <, > and & as \u003c, \u003e and \u0026; they
// are shown as the characters published (the page escapes them).
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return unescapeHTMLRunes(buf.String())
}

// unescapeHTMLRunes undoes encoding/json's HTML escaping inside JSON text,
// leaving every other escape (such as an escaped backslash) alone.
func unescapeHTMLRunes(s string) string {
	if !strings.Contains(s, `\u00`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch esc := s[i:min(len(s), i+6)]; esc {
		case `\u003c`:
			b.WriteByte('<')
		case `\u003e`:
			b.WriteByte('>')
		case `\u0026`:
			b.WriteByte('&')
		default:
			b.WriteString(s[i : i+2]) // an escape pair, copied whole
			i++
			continue
		}
		i += 5
	}
	return b.String()
}

// ms shows a duration in milliseconds.
func ms(f float64) string {
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 1000:
		return fmt.Sprintf("%.0f ms", f)
	default:
		return fmt.Sprintf("%.1f s", f/1000)
	}
}

// query builds "?k=v&..." from pairs, leaving out empty values.
func query(pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// notesTable is the data of the "notes" partial (a notifications table).
type notesTable struct {
	Caption     string
	Prefix      string
	Now         time.Time
	Notes       []notification
	Endpoints   map[string]string // webhook id to endpoint
	ShowWebhook bool
}

// lastAttempt is the newest of a notification's attempts (nil: none).
func lastAttempt(atts []attempt) *attempt {
	if len(atts) == 0 {
		return nil
	}
	return &atts[len(atts)-1]
}

var funcs = template.FuncMap{
	"last":   lastAttempt,
	"status": statusLabel,
	"time":   fmtTime,
	"json":   prettyJSON,
	"ms":     ms,
	"query":  query,
	"join":   strings.Join,
	"ago":    ago,
	// expiring: a client certificate expiring within store.CertificateWarning.
	"expiring": func(now time.Time, s string) bool {
		t := parseAPITime(s)
		return !t.IsZero() && t.Sub(now) < store.CertificateWarning
	},
	"excerpt": func(s string) string { return truncate(s, 300) },
	"deref": func(p *int) string {
		if p == nil {
			return "default"
		}
		return fmt.Sprint(*p)
	},
}
