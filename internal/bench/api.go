package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// apiClient talks to the Herald under test, acting on one tenant with an
// admin key.
type apiClient struct {
	base   string
	key    string
	tenant string
	hc     *http.Client
}

func newAPIClient(base, key string) *apiClient {
	return &apiClient{
		base: strings.TrimSuffix(base, "/"), key: key,
		hc: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
			MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute, DisableCompression: true,
		}},
	}
}

// apiStatusError is an answer with an unexpected status.
type apiStatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiStatusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// do sends a request and checks the answer's status is want. The answer is
// decoded into out when out is not nil, discarded otherwise.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("apikey", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tenant != "" {
		req.Header.Set("Herald-Tenant", c.tenant)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return &apiStatusError{Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return fmt.Errorf("%s %s: read answer: %w", method, path, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// createTenant creates a tenant and returns its id.
func (c *apiClient) createTenant(ctx context.Context, name string) (string, error) {
	body, err := json.Marshal(map[string]string{"name": name})
	if err != nil {
		return "", fmt.Errorf("create tenant: %w", err)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "/tenants", body, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("create tenant %s (the bench needs an admin key): %w", name, err)
	}
	return out.ID, nil
}

// forTenant is a client acting on the tenant id, sharing c's connections.
func (c *apiClient) forTenant(id string) *apiClient {
	out := *c
	out.tenant = id
	return &out
}

// isEmpty reports whether Herald holds nothing but its default tenant
// without webhooks: the bench refuses to fill a database in use.
func (c *apiClient) isEmpty(ctx context.Context) (bool, error) {
	var tenants struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/tenants?limit=2", nil, http.StatusOK, &tenants); err != nil {
		return false, err
	}
	var hooks struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/webhooks?limit=1", nil, http.StatusOK, &hooks); err != nil {
		return false, err
	}
	return len(tenants.Data) <= 1 && len(hooks.Data) == 0, nil
}

// webhookSpec is a webhook the bench registers.
type webhookSpec struct {
	Endpoint string
	// Event is the event it subscribes to (default TRANSACTION).
	Event          string
	Disabled       bool
	TimeoutSeconds int
	MaxInFlight    int
}

// createWebhook registers a webhook and returns its id.
func (c *apiClient) createWebhook(ctx context.Context, s webhookSpec) (string, error) {
	status := "ACTIVE"
	if s.Disabled {
		status = "DISABLED"
	}
	cfg := map[string]int{"max_in_flight": s.MaxInFlight, "timeout_seconds": s.TimeoutSeconds}
	if cfg["max_in_flight"] == 0 {
		cfg["max_in_flight"] = defaultMaxInFlight
	}
	if cfg["timeout_seconds"] == 0 {
		cfg["timeout_seconds"] = 10
	}
	event := s.Event
	if event == "" {
		event = eventName
	}
	body, err := json.Marshal(map[string]any{"endpoint": s.Endpoint, "events": []string{event}, "status": status, "config": cfg})
	if err != nil {
		return "", fmt.Errorf("create webhook: %w", err)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "/webhooks", body, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("create webhook for %s: %w", s.Endpoint, err)
	}
	return out.ID, nil
}

// setStatus sets a webhook ACTIVE or DISABLED.
func (c *apiClient) setStatus(ctx context.Context, id, status string) error {
	body, err := json.Marshal(map[string]string{"status": status})
	if err != nil {
		return fmt.Errorf("set webhook status: %w", err)
	}
	if err := c.do(ctx, http.MethodPut, "/webhooks/"+id, body, http.StatusOK, nil); err != nil {
		return fmt.Errorf("set webhook %s %s: %w", id, status, err)
	}
	return nil
}

// circuit is the state of a webhook's circuit: "open" or "closed".
func (c *apiClient) circuit(ctx context.Context, id string) (string, error) {
	var out struct {
		Health struct {
			Circuit string `json:"circuit"`
		} `json:"health"`
	}
	if err := c.do(ctx, http.MethodGet, "/webhooks/"+id, nil, http.StatusOK, &out); err != nil {
		return "", fmt.Errorf("read webhook %s: %w", id, err)
	}
	return out.Health.Circuit, nil
}

// deleteWebhook deletes a webhook (its pending notifications are cancelled).
func (c *apiClient) deleteWebhook(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodDelete, "/webhooks/"+id, nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// published is the answer of POST /events.
type published struct {
	EventID       string `json:"event_id"`
	Notifications []struct {
		ID        string `json:"id"`
		WebhookID string `json:"webhook_id"`
	} `json:"notifications"`
}

// publish sends one event with POST /events.
func (c *apiClient) publish(ctx context.Context, body []byte) (published, error) {
	var out published
	err := c.do(ctx, http.MethodPost, "/events", body, http.StatusAccepted, &out)
	return out, err
}

// publishBatch sends a {"events": [...]} body to POST /events:batch; the
// answer is read and discarded.
func (c *apiClient) publishBatch(ctx context.Context, body []byte) error {
	return c.do(ctx, http.MethodPost, "/events:batch", body, http.StatusAccepted, nil)
}

// batchAnswer is the answer of POST /events:batch: each event's id and
// the count of its notifications.
type batchAnswer struct {
	Events []struct {
		EventID string `json:"event_id"`
		// Notifications are only counted.
		Notifications []struct{} `json:"notifications"`
	} `json:"events"`
}

// notifications is the count of notifications the answer lists.
func (a batchAnswer) notifications() int {
	n := 0
	for _, e := range a.Events {
		n += len(e.Notifications)
	}
	return n
}

// publishBatchAnswer sends a {"events": [...]} body to POST /events:batch
// and returns its event ids and notification counts.
func (c *apiClient) publishBatchAnswer(ctx context.Context, body []byte) (batchAnswer, error) {
	var out batchAnswer
	err := c.do(ctx, http.MethodPost, "/events:batch", body, http.StatusAccepted, &out)
	return out, err
}

// eventNotifications is the count of notifications GET /events/{id}
// lists: those written so far.
func (c *apiClient) eventNotifications(ctx context.Context, id string) (int, error) {
	var out struct {
		Notifications []struct{} `json:"notifications"`
	}
	if err := c.do(ctx, http.MethodGet, "/events/"+id, nil, http.StatusOK, &out); err != nil {
		return 0, fmt.Errorf("read event %s: %w", id, err)
	}
	return len(out.Notifications), nil
}

// hasPending reports whether the webhook has a PENDING notification.
func (c *apiClient) hasPending(ctx context.Context, webhookID string) (bool, error) {
	body, err := json.Marshal(map[string]any{"webhook_id": webhookID, "status": "PENDING", "limit": 1})
	if err != nil {
		return false, fmt.Errorf("search pending: %w", err)
	}
	var out struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := c.do(ctx, http.MethodPost, "/webhooks:search", body, http.StatusOK, &out); err != nil {
		return false, fmt.Errorf("search pending notifications of %s: %w", webhookID, err)
	}
	return len(out.Data) > 0, nil
}

// anyPending reports whether any of the webhooks has a PENDING
// notification.
func (c *apiClient) anyPending(ctx context.Context, ids []string) (bool, error) {
	for _, id := range ids {
		p, err := c.hasPending(ctx, id)
		if err != nil || p {
			return p, err
		}
	}
	return false, nil
}
