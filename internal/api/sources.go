package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/source"
	"github.com/heraldhq/herald/internal/store"
)

// Sources is this replica's consumer of the broker sources.
type Sources interface {
	// Refresh makes it re-read the sources now (one was changed here).
	Refresh()
	Status(id string) (source.Status, bool)
	Statuses() map[string]source.Status
}

// stateStarting: an active source this replica has not picked up yet.
const stateStarting = "starting"

type sourceJSON struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	URL      string `json:"url"`
	TenantID string `json:"tenant_id"`
	Queue    string `json:"queue,omitempty"`
	Stream   string `json:"stream,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Durable  string `json:"durable,omitempty"`
	Status   string `json:"status"`
	// Rejected counts every message rejected, by any replica.
	Rejected int64           `json:"rejected"`
	Created  string          `json:"created"`
	Modified string          `json:"modified"`
	State    sourceStateJSON `json:"state"`
}

// sourceStateJSON is the source's consumer on the replica that answers.
type sourceStateJSON struct {
	State       string  `json:"state"`
	Since       *string `json:"since"`
	LastError   *string `json:"last_error"`
	LastErrorAt *string `json:"last_error_at"`
	Published   int64   `json:"published"`
	Duplicates  int64   `json:"duplicates"`
	Rejected    int64   `json:"rejected"`
	LastMessage *string `json:"last_message"`
}

type sourceInput struct {
	Type    *string `json:"type"`
	URL     *string `json:"url"`
	Tenant  *string `json:"tenant"`
	Queue   *string `json:"queue"`
	Stream  *string `json:"stream"`
	Subject *string `json:"subject"`
	Durable *string `json:"durable"`
	Status  *string `json:"status"`
}

type rejectedJSON struct {
	ID        string `json:"id"`
	MessageID string `json:"message_id"`
	Error     string `json:"error"`
	Field     string `json:"field"`
	Payload   string `json:"payload"`
	Size      int    `json:"size"`
	Received  string `json:"received"`
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

func (s *server) toSourceJSON(src store.Source) sourceJSON {
	st, ok := s.sourceStatus(src.ID)
	return s.sourceView(src, st, ok)
}

// sourceStatus is this replica's consumer state of a source, if it runs one.
func (s *server) sourceStatus(id string) (source.Status, bool) {
	if s.Sources == nil {
		return source.Status{}, false
	}
	return s.Sources.Status(id)
}

func (s *server) sourceView(src store.Source, st source.Status, ok bool) sourceJSON {
	out := sourceJSON{ID: src.ID, Type: src.Type, URL: source.MaskURL(src.URL), TenantID: src.TenantID,
		Queue: src.Queue, Stream: src.Stream, Subject: src.Subject, Durable: src.Durable, Status: src.Status,
		Rejected: src.Rejected, Created: formatTime(src.Created), Modified: formatTime(src.Modified)}
	switch {
	case src.Status == store.SourcePaused:
		out.State.State = "paused"
	case !ok:
		out.State.State = stateStarting
	default:
		out.State = sourceStateJSON{State: st.State, Since: optionalTime(st.Since), LastErrorAt: optionalTime(st.LastErrorAt),
			Published: st.Published, Duplicates: st.Duplicates, Rejected: st.Rejected, LastMessage: optionalTime(st.LastMessageAt)}
		if st.LastError != "" {
			out.State.LastError = &st.LastError
		}
	}
	return out
}

// refreshSources tells this replica's consumers a source changed.
func (s *server) refreshSources() {
	if s.Sources != nil {
		s.Sources.Refresh()
	}
}

func (s *server) createSource(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in sourceInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	now := time.Now().UTC()
	src := store.Source{ID: uuid.Must(uuid.NewV7()).String(), Type: str(in.Type), URL: str(in.URL), Queue: str(in.Queue),
		Stream: str(in.Stream), Subject: str(in.Subject), Durable: str(in.Durable), Status: store.SourceActive,
		Created: now, Modified: now}
	if err := source.Check(src); err != nil {
		var fe *source.FieldError
		if errors.As(err, &fe) {
			return invalid(fe.Field, "%s", fe.Message)
		}
		return invalid("", "%v", err)
	}
	if in.Tenant == nil || *in.Tenant == "" {
		return invalid("tenant", "is required (the id or name of the tenant the events are published for)")
	}
	if in.Status != nil {
		if *in.Status != store.SourceActive && *in.Status != store.SourcePaused {
			return invalid("status", "must be ACTIVE or PAUSED")
		}
		src.Status = *in.Status
	}
	t, err := s.Store.Tenant(r.Context(), *in.Tenant)
	if errors.Is(err, store.ErrNotFound) {
		return invalid("tenant", "no tenant has the id or name %q", truncate(*in.Tenant, 100))
	}
	if err != nil {
		return s.storeError(r, err, "tenant")
	}
	src.TenantID = t.ID
	if err := s.Store.CreateSource(r.Context(), src); err != nil {
		return s.storeError(r, err, "source")
	}
	noteCreated(r, src.ID)
	s.refreshSources()
	writeJSON(w, http.StatusCreated, s.toSourceJSON(src))
	return nil
}

func (s *server) listSources(w http.ResponseWriter, r *http.Request, _ principal) error {
	page, aerr := pageFromQuery(r)
	if aerr != nil {
		return aerr
	}
	srcs, paging, err := s.Store.Sources(r.Context(), page)
	if err != nil {
		return err
	}
	data := make([]sourceJSON, len(srcs))
	for i, src := range srcs {
		data[i] = s.toSourceJSON(src)
	}
	writeJSON(w, http.StatusOK, listJSON[sourceJSON]{Data: data, Paging: pagingJSON(paging)})
	return nil
}

func (s *server) getSource(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	// This replica's counts first, then the row: a consumer stores a
	// rejected message before it counts it, so the row's total read after
	// the counts includes every rejection they show.
	st, ok := s.sourceStatus(id)
	src, err := s.Store.Source(r.Context(), id)
	if err != nil {
		return s.storeError(r, err, "source "+id)
	}
	writeJSON(w, http.StatusOK, s.sourceView(src, st, ok))
	return nil
}

func (s *server) updateSource(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	var in struct {
		Status *string `json:"status"`
	}
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.Status == nil {
		return invalid("status", "is required")
	}
	if *in.Status != store.SourceActive && *in.Status != store.SourcePaused {
		return invalid("status", "must be ACTIVE or PAUSED")
	}
	src, err := s.Store.SetSourceStatus(r.Context(), id, *in.Status, time.Now().UTC())
	if err != nil {
		return s.storeError(r, err, "source "+id)
	}
	s.refreshSources()
	writeJSON(w, http.StatusOK, s.toSourceJSON(src))
	return nil
}

func (s *server) deleteSource(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	if err := s.Store.DeleteSource(r.Context(), id); err != nil {
		return s.storeError(r, err, "source "+id)
	}
	s.refreshSources()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listRejected(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := chi.URLParam(r, "id")
	page, aerr := pageFromQuery(r)
	if aerr != nil {
		return aerr
	}
	msgs, paging, err := s.Store.RejectedMessages(r.Context(), id, page)
	if err != nil {
		return s.storeError(r, err, "source "+id)
	}
	data := make([]rejectedJSON, len(msgs))
	for i, m := range msgs {
		data[i] = rejectedJSON{ID: m.ID, MessageID: m.MessageID, Error: m.Error, Field: m.Field, Payload: m.Payload,
			Size: m.Size, Received: formatTime(m.Received)}
	}
	writeJSON(w, http.StatusOK, listJSON[rejectedJSON]{Data: data, Paging: pagingJSON(paging)})
	return nil
}

type sourceReadyJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// sourceStates is what /readyz says of the sources this replica consumes:
// their states only, since /readyz needs no key (errors may name hosts).
func (s *server) sourceStates() []sourceReadyJSON {
	out := []sourceReadyJSON{}
	if s.Sources == nil {
		return out
	}
	for id, st := range s.Sources.Statuses() {
		out = append(out, sourceReadyJSON{ID: id, State: st.State})
	}
	slices.SortFunc(out, func(a, b sourceReadyJSON) int { return strings.Compare(a.ID, b.ID) })
	return out
}
