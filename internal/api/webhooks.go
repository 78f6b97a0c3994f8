package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/store"
)

// mask replaces every secret in an answer.
const mask = "********"

// webhookJSON is a webhook as the API shows it, secrets masked.
type webhookJSON struct {
	ID       string     `json:"id"`
	Endpoint string     `json:"endpoint"`
	Events   []string   `json:"events"`
	Status   string     `json:"status"`
	Config   configJSON `json:"config"`
	Health   healthJSON `json:"health"`
	Created  string     `json:"created"`
	Modified string     `json:"modified"`
	// PublicKey verifies the signatures of an Ed25519 webhook (null for
	// hmac-sha256).
	PublicKey *string `json:"public_key"`
	// Secret is set only in the answer that creates an hmac-sha256 webhook
	// or switches one to hmac-sha256.
	Secret string `json:"secret,omitempty"`
}

type configJSON struct {
	BasicAuthUsername    *string        `json:"basic_auth_username"`
	BasicAuthPassword    *string        `json:"basic_auth_password"`
	CustomHeaders        []store.Header `json:"custom_headers"`
	Format               string         `json:"format"`
	TimeoutSeconds       int            `json:"timeout_seconds"`
	MaxInFlight          int            `json:"max_in_flight"`
	MaxRetries           *int           `json:"max_retries"`
	RetryIntervalSeconds *int           `json:"retry_interval_seconds"`
	OAuth2               *oauth2JSON    `json:"oauth2"`
	RateLimitPerSecond   *float64       `json:"rate_limit_per_second"`
	Ordered              bool           `json:"ordered"`
	Signature            string         `json:"signature"`
	Filter               *filter.Filter `json:"filter"`
	TLS                  *tlsJSON       `json:"tls"`
}

// healthJSON is a webhook's delivery record: the circuit is "open" (status
// FAILING) after consecutive failures, "closed" otherwise.
type healthJSON struct {
	Circuit             string  `json:"circuit"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	FailingSince        *string `json:"failing_since"`
	NextProbe           *string `json:"next_probe"`
	LastSuccess         *string `json:"last_success"`
	LastFailure         *string `json:"last_failure"`
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

type oauth2JSON struct {
	TokenURL     string `json:"token_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope,omitempty"`
}

func toWebhookJSON(w store.Webhook) webhookJSON {
	c := w.Config
	out := webhookJSON{
		ID: w.ID, Endpoint: w.Endpoint, Events: w.Events, Status: w.Status,
		Created: formatTime(w.Created), Modified: formatTime(w.Modified),
		Config: configJSON{
			CustomHeaders: make([]store.Header, len(c.CustomHeaders)),
			Format:        c.Format, TimeoutSeconds: c.TimeoutSeconds, MaxInFlight: c.MaxInFlight,
			MaxRetries: c.MaxRetries, RetryIntervalSeconds: c.RetryIntervalSeconds,
			RateLimitPerSecond: c.RateLimitPerSecond, Ordered: c.Ordered, Signature: c.SignatureScheme(),
			TLS: toTLSJSON(c.TLS),
		},
		PublicKey: publicKey(w),
		Health: healthJSON{Circuit: "closed", ConsecutiveFailures: w.Health.ConsecutiveFailures,
			FailingSince: optTime(w.Health.FailingSince), LastSuccess: optTime(w.Health.LastSuccess),
			LastFailure: optTime(w.Health.LastFailure)},
	}
	if w.Health.CircuitOpen() {
		out.Health.Circuit, out.Health.NextProbe = "open", optTime(w.Health.CircuitOpenUntil)
		if w.Status == store.WebhookActive {
			out.Status = "FAILING"
		}
	}
	if c.BasicAuthUsername != "" {
		out.Config.BasicAuthUsername = &c.BasicAuthUsername
	}
	if c.BasicAuthPassword != "" {
		m := mask
		out.Config.BasicAuthPassword = &m
	}
	for i, h := range c.CustomHeaders {
		out.Config.CustomHeaders[i] = store.Header{Name: h.Name, Value: mask}
	}
	if !c.Filter.Empty() {
		out.Config.Filter = c.Filter
	}
	if o := c.OAuth2; o != nil {
		out.Config.OAuth2 = &oauth2JSON{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: mask, Scope: o.Scope}
	}
	return out
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request, p principal) error {
	var in webhookInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	now := time.Now().UTC()
	hook := store.Webhook{
		ID: uuid.Must(uuid.NewV7()).String(), TenantID: p.TenantID, Status: store.WebhookActive,
		Config:  store.WebhookConfig{Format: store.FormatNCore, TimeoutSeconds: int(delivery.DefaultTimeout / time.Second), MaxInFlight: 16},
		Created: now, Modified: now,
	}
	if in.Endpoint == nil {
		return invalid("endpoint", "is required")
	}
	if in.Events == nil {
		return invalid("events", "is required")
	}
	if err := s.apply(&in, &hook, s.resolvingCheck(r)); err != nil {
		return err
	}
	secret, err := newSigningKey(hook.Config.SignatureScheme())
	if err != nil {
		return err
	}
	hook.Secret = secret
	if err := s.Store.CreateWebhook(r.Context(), hook, s.MaxWebhooksPerTenant); err != nil {
		if errors.Is(err, store.ErrLimit) {
			return &apiError{Status: http.StatusConflict, Code: codeLimit,
				Message: "this tenant already has the maximum number of webhooks"}
		}
		return err
	}
	noteCreated(r, hook.ID)
	out := toWebhookJSON(hook)
	out.Secret = shownSecret(hook)
	w.Header().Set("Location", "/webhooks/"+hook.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request, p principal) error {
	page, aerr := pageFromQuery(r)
	if aerr != nil {
		return aerr
	}
	hooks, paging, err := s.Store.Webhooks(r.Context(), p.TenantID, page)
	if err != nil {
		return err
	}
	data := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		data[i] = toWebhookJSON(h)
	}
	writeJSON(w, http.StatusOK, listJSON[webhookJSON]{Data: data, Paging: pagingJSON(paging)})
	return nil
}

// webhookID reads {id}; ids never contain ':', which marks a custom verb
// (chi routes /webhooks/x:verb here when no route matches).
func webhookID(r *http.Request) (string, *apiError) {
	id := chi.URLParam(r, "id")
	if base, verb, ok := strings.Cut(id, ":"); ok {
		if webhookVerbs[verb] && base != "" {
			return "", methodNotAllowed(r)
		}
		return "", notFound("path " + r.URL.Path)
	}
	return id, nil
}

func (s *server) getWebhook(w http.ResponseWriter, r *http.Request, p principal) error {
	id, aerr := webhookID(r)
	if aerr != nil {
		return aerr
	}
	hook, err := s.Store.Webhook(r.Context(), p.TenantID, id)
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	writeJSON(w, http.StatusOK, toWebhookJSON(hook))
	return nil
}

func (s *server) updateWebhook(w http.ResponseWriter, r *http.Request, p principal) error {
	id, aerr := webhookID(r)
	if aerr != nil {
		return aerr
	}
	var in webhookInput
	if err := decode(r, &in, false); err != nil {
		return err
	}
	// Validate against the webhook as it is now, resolving hosts outside
	// the write transaction (no network I/O may hold the writer), then
	// apply the request again to the webhook as the transaction reads it:
	// a concurrent PUT changing other members is kept, and a credential
	// check (masked values, a new origin) sees what is really stored.
	hook, err := s.Store.Webhook(r.Context(), p.TenantID, id)
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	if err := s.apply(&in, &hook, s.resolvingCheck(r)); err != nil {
		return err
	}
	rekeyed := false // a change of signature scheme made a new key
	updated, err := s.Store.UpdateWebhook(r.Context(), p.TenantID, id, func(stored *store.Webhook) error {
		before := stored.Secret
		if err := s.apply(&in, stored, nil); err != nil {
			return err
		}
		rekeyed = stored.Secret != before
		stored.Modified = time.Now().UTC()
		return nil
	})
	if errors.As(err, &aerr) { // refused against the webhook as stored now
		return aerr
	}
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	s.Waker.Wake() // a re-enabled webhook may have work waiting
	out := toWebhookJSON(updated)
	if rekeyed {
		out.Secret = shownSecret(updated)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request, p principal) error {
	id, aerr := webhookID(r)
	if aerr != nil {
		return aerr
	}
	cancelled, err := s.Store.DeleteWebhook(r.Context(), p.TenantID, id, time.Now().UTC())
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	s.Logger.Info("webhook deleted", "tenant_id", p.TenantID, "webhook_id", id, "cancelled", cancelled)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// webhookVerb serves POST /webhooks/{id}:<verb>.
func (s *server) webhookVerb(w http.ResponseWriter, r *http.Request, p principal) error {
	id, verb, ok := strings.Cut(chi.URLParam(r, "id"), ":")
	if !ok {
		return methodNotAllowed(r)
	}
	switch verb {
	case "ping":
		return s.ping(w, r, p, id)
	case "test":
		return s.testEvent(w, r, p, id)
	case "replay":
		return s.replay(w, r, p, id)
	default:
		return notFound("path " + r.URL.Path)
	}
}

type pingJSON struct {
	Success      bool    `json:"success"`
	StatusCode   int     `json:"status_code"`
	DurationMS   float64 `json:"duration_ms"`
	ResponseBody string  `json:"response_body"`
	ErrorKind    string  `json:"error_kind,omitempty"`
	Error        string  `json:"error"`
}

// ping sends one synchronous, signed PING request with the webhook's
// credentials. It is not queued and not retried.
func (s *server) ping(w http.ResponseWriter, r *http.Request, p principal, id string) error {
	hook, err := s.Store.Webhook(r.Context(), p.TenantID, id)
	if err != nil {
		return s.storeError(r, err, "webhook "+id)
	}
	now := time.Now().UTC()
	target, err := delivery.NewTarget(hook, now)
	if err != nil {
		return err
	}
	msgID := uuid.NewString()
	payload, err := json.Marshal(map[string]string{"event": "PING", "webhook_id": hook.ID, "timestamp": formatTime(now)})
	if err != nil {
		return err
	}
	body, err := delivery.Body(hook.Config.Format, store.Claimed{ID: msgID, EventName: "PING", Payload: payload, Published: now})
	if err != nil {
		return err
	}
	out := s.Sender.Send(r.Context(), target, delivery.Message{ID: msgID, Event: "PING", Attempt: 1, Body: body, Timestamp: now})
	writeJSON(w, http.StatusOK, pingJSON{
		Success: out.OK(), StatusCode: out.StatusCode, DurationMS: float64(out.Duration.Microseconds()) / 1000,
		ResponseBody: out.ResponseBody, ErrorKind: out.ErrorKind, Error: out.Error,
	})
	return nil
}
