package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The audit log: one INFO line ("audit") for every authenticated request
// that may change something, made with an API key or from the dashboard,
// written after the handler with the answer's status, so refused attempts
// are there too. It names who (key id and prefix, the tenant acted on, the
// remote address), what (method, route pattern, the resource's id from the
// path and the id of a resource created) and when; it never holds a header,
// a query or a body, so no secret can reach it.
//
// Not audited: reads (GET), the read-only POST /webhooks:search, and
// publishing (POST /events, /events:batch), which is the data plane, at
// far higher rates, and is itself recorded as events and notifications.

// notAudited are the POST paths that change no configuration.
var notAudited = map[string]bool{"/webhooks:search": true, "/events": true, "/events:batch": true}

// maxAuditID bounds an id taken from a path into the log.
const maxAuditID = 128

type auditKey struct{}

// auditNote is what a handler adds to its audit line.
type auditNote struct{ created string }

// noteCreated records the id of the resource a request created (or, for a
// change with no id in its path, the resource it changed).
func noteCreated(r *http.Request, id string) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		n.created = id
	}
}

func (s *server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			next.ServeHTTP(w, r)
			return
		}
		if notAudited[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		note := &auditNote{}
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditKey{}, note)))
		s.logAudit(r, sw.code(), note, time.Since(start))
	})
}

func (s *server) logAudit(r *http.Request, status int, note *auditNote, took time.Duration) {
	rc := chi.RouteContext(r.Context())
	if rc == nil || rc.RoutePattern() == "" {
		return // no route: nothing could change
	}
	route := rc.RoutePattern()
	id := rc.URLParam("id")
	if before, verb, ok := strings.Cut(id, ":"); ok { // /webhooks/{id}:ping
		id, route = before, route+":"+truncateID(verb)
	}
	p := principalFrom(r.Context())
	attrs := []slog.Attr{
		slog.String("via", p.Via), slog.String("method", r.Method), slog.String("route", route),
		slog.Int("status", status), slog.String("key_id", p.KeyID), slog.String("key_prefix", p.KeyPrefix),
		slog.String("tenant_id", p.TenantID), slog.String("remote", r.RemoteAddr),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
	}
	if id != "" {
		attrs = append(attrs, slog.String("resource_id", truncateID(id)))
	}
	if note.created != "" {
		attrs = append(attrs, slog.String("created_id", truncateID(note.created)))
	}
	s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "audit", attrs...)
}

func truncateID(s string) string {
	if len(s) > maxAuditID {
		return s[:maxAuditID] + "…"
	}
	return s
}

// statusWriter keeps the status of the answer written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes a flush on, for answers that are streamed.
func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
