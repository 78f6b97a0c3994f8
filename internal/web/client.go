package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/store"
)

// This file is the dashboard's side of Herald's HTTP API contract (SPEC
// section 2): the answers it reads, decoded into its own types, and a client
// that calls the API handler in-process as the signed-in key. The dashboard
// reads and changes webhooks and notifications only this way.

// apiError is an API failure answer: {"error": {"code", "message", "field"}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// Error is the API's message, with the offending field if it named one.
func (e *apiError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s (%s)", e.Message, e.Field)
	}
	return e.Message
}

type paging struct {
	After   string `json:"after"`
	HasMore bool   `json:"has_more"`
	// Before is the cursor of the newer page (searches only).
	Before string `json:"before"`
}

// webhook is a webhook as the API shows it (secrets already masked; the
// dashboard does not show even the masks).
type webhook struct {
	ID       string        `json:"id"`
	Endpoint string        `json:"endpoint"`
	Events   []string      `json:"events"`
	Status   string        `json:"status"`
	Config   webhookConfig `json:"config"`
	Health   health        `json:"health"`
	Created  string        `json:"created"`
	Modified string        `json:"modified"`
	// PublicKey verifies an ed25519 webhook's signatures (no secret).
	PublicKey *string `json:"public_key"`
}

type webhookConfig struct {
	BasicAuthUsername    *string  `json:"basic_auth_username"`
	BasicAuthPassword    *string  `json:"basic_auth_password"`
	CustomHeaders        []header `json:"custom_headers"`
	Format               string   `json:"format"`
	TimeoutSeconds       int      `json:"timeout_seconds"`
	MaxInFlight          int      `json:"max_in_flight"`
	MaxRetries           *int     `json:"max_retries"`
	RetryIntervalSeconds *int     `json:"retry_interval_seconds"`
	OAuth2               *struct {
		TokenURL string `json:"token_url"`
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	} `json:"oauth2"`
	RateLimitPerSecond *float64 `json:"rate_limit_per_second"`
	Ordered            bool     `json:"ordered"`
	Signature          string   `json:"signature"`
	// TLS is read for what the dashboard shows (the key is masked anyway).
	TLS *struct {
		ServerName               *string `json:"server_name"`
		ClientCertificateExpires string  `json:"client_certificate_expires"`
	} `json:"tls"`
}

// header is a custom header; only its name is read (the value is a secret).
type header struct {
	Name string `json:"header_name"`
}

type health struct {
	Circuit             string `json:"circuit"`
	ConsecutiveFailures int    `json:"consecutive_failures"`
	FailingSince        string `json:"failing_since"`
	NextProbe           string `json:"next_probe"`
	LastSuccess         string `json:"last_success"`
	LastFailure         string `json:"last_failure"`
}

type notification struct {
	ID            string          `json:"id"`
	EventID       string          `json:"event_id"`
	WebhookID     string          `json:"webhook_id"`
	Event         string          `json:"event"`
	Test          bool            `json:"test"`
	Status        string          `json:"status"`
	AttemptCount  int             `json:"attempt_count"`
	NextAttemptAt string          `json:"next_attempt_at"`
	Created       string          `json:"created"`
	Modified      string          `json:"modified"`
	Payload       json.RawMessage `json:"payload"`
	Attempts      []attempt       `json:"attempts"`
}

type attempt struct {
	Attempt      int     `json:"attempt"`
	Time         string  `json:"time"`
	DurationMS   float64 `json:"duration_ms"`
	StatusCode   int     `json:"status_code"`
	ResponseBody string  `json:"response_body"`
	ErrorKind    string  `json:"error_kind"`
	Error        string  `json:"error"`
	// The headers sent (credentials masked by Herald) and received.
	RequestHeaders  []attemptHeader `json:"request_headers"`
	ResponseHeaders []attemptHeader `json:"response_headers"`
}

type attemptHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// OK reports whether the attempt succeeded (the API gives failures a kind).
func (a attempt) OK() bool { return a.ErrorKind == "" }

type pingResult struct {
	Success      bool    `json:"success"`
	StatusCode   int     `json:"status_code"`
	DurationMS   float64 `json:"duration_ms"`
	ResponseBody string  `json:"response_body"`
	ErrorKind    string  `json:"error_kind"`
	Error        string  `json:"error"`
}

type tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// searchQuery is the body of POST /webhooks:search.
type searchQuery struct {
	NotificationID string `json:"notification_id,omitempty"`
	EventID        string `json:"event_id,omitempty"`
	WebhookID      string `json:"webhook_id,omitempty"`
	Event          string `json:"event,omitempty"`
	Status         string `json:"status,omitempty"`
	From           string `json:"from,omitempty"`
	To             string `json:"to,omitempty"`
	CardID         string `json:"card_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	AccountID      string `json:"account_id,omitempty"`
	TransactionID  string `json:"transaction_id,omitempty"`
	Limit          int    `json:"limit,omitempty"`
	After          string `json:"after,omitempty"`
	Before         string `json:"before,omitempty"`
	// IncludePayload asks for the event payloads (one notification's page
	// shows it; the list does not).
	IncludePayload bool `json:"include_payload,omitempty"`
}

// maxAPIAnswer bounds an answer the dashboard reads (a search page of 1000
// notifications with attempt logs, and at most 8 MiB of payloads, stays
// well below it).
const maxAPIAnswer = 64 << 20

// client calls the API handler in-process (api.NewInProcess) as a key,
// handed to it with api.AsKey: no key material is involved.
type client struct {
	api    http.Handler
	as     store.APIKey // the key's stored record, read with the session
	tenant string       // Herald-Tenant (admin keys); empty: the key's own
	remote string
	// readOnly refuses every request that may change something (a
	// read-only portal session), before the API sees it.
	readOnly bool
}

// errReadOnly refuses a change made in a read-only session.
var errReadOnly = &apiError{Status: http.StatusForbidden, Code: "read_only", Message: "this portal session is read-only: it changes nothing"}

// reads reports whether a request only reads (every GET, and the searches
// sent as POST).
func reads(method, path string) bool {
	return method == http.MethodGet || (method == http.MethodPost && path == "/webhooks:search")
}

// recorder is the smallest http.ResponseWriter that keeps the answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header is the answer's header map.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader keeps the first status written.
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// Write keeps the body, up to maxAPIAnswer bytes.
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(p) > maxAPIAnswer {
		return 0, fmt.Errorf("API answer larger than %d bytes", maxAPIAnswer)
	}
	return r.body.Write(p)
}

// do sends one request; in (if not nil) is sent as JSON and a 2xx answer is
// decoded into out (if not nil). A failure answer is an *apiError.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	if c.readOnly && !reads(method, path) {
		return errReadOnly
	}
	var body *bytes.Reader
	if in != nil {
		buf, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(buf)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(api.AsKey(ctx, c.as), method, path, body)
	if err != nil {
		return err
	}
	req.RemoteAddr = c.remote
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tenant != "" {
		req.Header.Set("Herald-Tenant", c.tenant)
	}
	rec := &recorder{header: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status < 200 || rec.status > 299 {
		var e struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == nil {
			e.Error = &apiError{Code: "unexpected_answer", Message: http.StatusText(rec.status)}
		}
		e.Error.Status = rec.status
		return e.Error
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s %s answer: %w", method, path, err)
	}
	return nil
}

func (c *client) webhooks(ctx context.Context, limit int, after string) ([]webhook, paging, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	var out struct {
		Data   []webhook `json:"data"`
		Paging paging    `json:"paging"`
	}
	err := c.do(ctx, http.MethodGet, "/webhooks?"+q.Encode(), nil, &out)
	return out.Data, out.Paging, err
}

func (c *client) webhook(ctx context.Context, id string) (webhook, error) {
	var out webhook
	err := c.do(ctx, http.MethodGet, "/webhooks/"+url.PathEscape(id), nil, &out)
	return out, err
}

func (c *client) setStatus(ctx context.Context, id, status string) (webhook, error) {
	var out webhook
	err := c.do(ctx, http.MethodPut, "/webhooks/"+url.PathEscape(id), map[string]string{"status": status}, &out)
	return out, err
}

func (c *client) ping(ctx context.Context, id string) (pingResult, error) {
	var out pingResult
	err := c.do(ctx, http.MethodPost, "/webhooks/"+url.PathEscape(id)+":ping", nil, &out)
	return out, err
}

func (c *client) search(ctx context.Context, q searchQuery) ([]notification, paging, error) {
	var out struct {
		Data   []notification `json:"data"`
		Paging paging         `json:"paging"`
	}
	err := c.do(ctx, http.MethodPost, "/webhooks:search", q, &out)
	return out.Data, out.Paging, err
}

// sendExpired re-sends EXPIRED notifications: those named, or all of one
// webhook.
func (c *client) sendExpired(ctx context.Context, webhookID string, ids []string) (int, error) {
	in := map[string]any{}
	if webhookID != "" {
		in["webhook_id"] = webhookID
	}
	if len(ids) > 0 {
		in["notification_ids"] = ids
	}
	var out struct {
		Requeued int `json:"requeued"`
	}
	err := c.do(ctx, http.MethodPost, "/webhooks:sendexpired", in, &out)
	return out.Requeued, err
}

func (c *client) tenants(ctx context.Context) ([]tenant, error) {
	var out struct {
		Data []tenant `json:"data"`
	}
	err := c.do(ctx, http.MethodGet, "/tenants?limit=200", nil, &out)
	return out.Data, err
}

// parseAPITime reads a time the API wrote (RFC 3339, UTC); zero if empty.
func parseAPITime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// eventType is a catalogue event as the dashboard offers it: for the
// webhook form and test events.
type eventType struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Sample      json.RawMessage `json:"sample"`
	Variants    []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Sample      json.RawMessage `json:"sample"`
	} `json:"variants"`
}

func (c *client) catalogue(ctx context.Context) ([]eventType, error) {
	var out struct {
		Data []eventType `json:"data"`
	}
	err := c.do(ctx, http.MethodGet, "/event-types", nil, &out)
	return out.Data, err
}

// rawWebhook is a webhook answer decoded as JSON (numbers as json.Number),
// for the form, which reads members by their path.
type rawWebhook map[string]any

func (w *rawWebhook) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	*w = m
	return nil
}

func (c *client) rawWebhook(ctx context.Context, id string) (rawWebhook, error) {
	var out rawWebhook
	err := c.do(ctx, http.MethodGet, "/webhooks/"+url.PathEscape(id), nil, &out)
	return out, err
}

// created is the answer to a webhook created or changed: its id, and the
// signing secret or public key shown this once (when there is one).
type created struct {
	ID        string  `json:"id"`
	Endpoint  string  `json:"endpoint"`
	Secret    string  `json:"secret"`
	PublicKey *string `json:"public_key"`
}

func (c *client) createWebhook(ctx context.Context, body map[string]any) (created, error) {
	var out created
	err := c.do(ctx, http.MethodPost, "/webhooks", body, &out)
	return out, err
}

func (c *client) updateWebhook(ctx context.Context, id string, body map[string]any) (created, error) {
	var out created
	err := c.do(ctx, http.MethodPut, "/webhooks/"+url.PathEscape(id), body, &out)
	return out, err
}

func (c *client) deleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/webhooks/"+url.PathEscape(id), nil, nil)
}

// rotated answers a key rotation.
type rotated struct {
	Secret                  string `json:"secret"`
	PublicKey               string `json:"public_key"`
	PreviousSecretExpiresAt string `json:"previous_secret_expires_at"`
}

func (c *client) rotate(ctx context.Context, id string) (rotated, error) {
	var out rotated
	err := c.do(ctx, http.MethodPost, "/webhooks/"+url.PathEscape(id)+"/secret:rotate", nil, &out)
	return out, err
}

// resend re-sends one notification in any final status.
func (c *client) resend(ctx context.Context, id string) (notification, error) {
	var out notification
	err := c.do(ctx, http.MethodPost, "/notifications/"+url.PathEscape(id)+":resend", nil, &out)
	return out, err
}

// bulkResend re-sends (or, dry, counts) the final notifications a search
// finds: POST /notifications:resend with the search's filters.
func (c *client) bulkResend(ctx context.Context, q searchQuery, dry bool) (int, bool, error) {
	q.Limit, q.After, q.Before, q.IncludePayload = 0, "", "", false // a search's paging is not a filter
	in := struct {
		searchQuery
		DryRun bool `json:"dry_run,omitempty"`
	}{q, dry}
	var out struct {
		Count   int  `json:"count"`
		HasMore bool `json:"has_more"`
	}
	err := c.do(ctx, http.MethodPost, "/notifications:resend", in, &out)
	return out.Count, out.HasMore, err
}

// testEvent sends a test event to a webhook: the sample of event (and
// variant), or payload when it is not empty.
func (c *client) testEvent(ctx context.Context, id, event, variant string, payload json.RawMessage) (notification, error) {
	in := map[string]any{"event": event}
	if len(payload) > 0 {
		in["payload"] = payload
	} else if variant != "" {
		in["variant"] = variant
	}
	var out notification
	err := c.do(ctx, http.MethodPost, "/webhooks/"+url.PathEscape(id)+":test", in, &out)
	return out, err
}

// event is an event as GET /events/{id} shows it, with its fan-out.
type event struct {
	ID            string            `json:"id"`
	Event         string            `json:"event"`
	Payload       json.RawMessage   `json:"payload"`
	Created       string            `json:"created"`
	Test          bool              `json:"test"`
	Subjects      map[string]string `json:"subjects"`
	Notifications []notification    `json:"notifications"`
}

func (c *client) event(ctx context.Context, id string) (event, error) {
	var out event
	err := c.do(ctx, http.MethodGet, "/events/"+url.PathEscape(id), nil, &out)
	return out, err
}
