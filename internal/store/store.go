// Package store holds Herald's durable records (tenants, API keys, webhooks,
// events, notifications and their attempts) and the errors its backends
// report. The backends live in sub-packages; callers define the narrow
// interfaces they need.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/internal/filter"
)

// Errors every backend reports, so callers can map them to answers.
var (
	// ErrNotFound: no such record in the caller's tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name or key is already taken.
	ErrConflict = errors.New("already exists")
	// ErrIdempotencyMismatch: an idempotency key was reused with another body.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	// ErrLimit: the tenant already has as many of a resource as allowed.
	ErrLimit = errors.New("limit reached")
	// ErrFanout: one publish would create more notifications than allowed.
	ErrFanout = errors.New("publish fans out to too many notifications")
)

// Role is what an API key may do.
type Role string

// The roles of SPEC section 2.
const (
	RoleAdmin     Role = "admin"
	RoleClient    Role = "client"
	RolePublisher Role = "publisher"
)

// Tenant is one client of the platform; every other record belongs to one.
type Tenant struct {
	ID      string
	Name    string
	Created time.Time
}

// APIKey is a credential. Only its SHA-256 hash is stored; Prefix is the
// first characters of the key, kept so people can tell keys apart.
type APIKey struct {
	ID       string
	TenantID string
	Role     Role
	Hash     string
	Prefix   string
	Created  time.Time
	Revoked  *time.Time
}

// Webhook statuses a client may set. FAILING is reported, never stored.
const (
	WebhookActive   = "ACTIVE"
	WebhookDisabled = "DISABLED"
)

// Delivery formats of a webhook.
const (
	FormatNCore = "ncore"
	FormatNI    = "ni"
)

// Signature schemes of a webhook (config.signature): Standard Webhooks "v1"
// signatures with a symmetric whsec_ secret, or "v1a" Ed25519 signatures
// with a whsk_ secret key whose whpk_ public key receivers verify with.
const (
	SignatureHMAC    = "hmac-sha256"
	SignatureEd25519 = "ed25519"
)

// Webhook is a registered endpoint with its subscriptions and credentials.
type Webhook struct {
	ID       string
	TenantID string
	Endpoint string
	Events   []string
	Status   string
	Config   WebhookConfig
	// Secret signs deliveries (a whsec_ secret or, for Ed25519, a whsk_
	// secret key); PreviousSecret keeps signing alongside it until
	// PreviousSecretUntil after a rotation or a change of scheme.
	Secret              string
	PreviousSecret      string
	PreviousSecretUntil time.Time
	Created             time.Time
	Modified            time.Time
	Health              Health
}

// Counts are the store's totals for monitoring.
type Counts struct {
	// Notifications by status.
	Notifications map[string]int
	// Webhooks by state (deleted ones not counted): active with a closed
	// circuit, active with an open circuit (failing), disabled.
	WebhooksActive, WebhooksFailing, WebhooksDisabled int
	// Client certificates of webhooks (deleted ones not counted), as of
	// the count: expired, and expiring within CertificateWarning.
	CertificatesExpired, CertificatesExpiring int
}

// WebhookVersion names a webhook as it was last modified, so a dispatcher
// can keep what it prepared from it until it changes.
type WebhookVersion struct {
	ID       string
	Modified time.Time
}

// CircuitThreshold is how many consecutive failed attempts open a webhook's
// circuit (SPEC section 3).
const CircuitThreshold = 5

// Health is a webhook's delivery record, kept by the store as attempts are
// recorded and shared by every replica.
type Health struct {
	ConsecutiveFailures int
	// FailingSince is the first failure of the current run of failures
	// (zero after a success): the webhook is disabled when it gets too old.
	FailingSince time.Time
	// CircuitOpenUntil is when an open circuit lets its next probe through.
	CircuitOpenUntil time.Time
	LastSuccess      time.Time
	LastFailure      time.Time
}

// CircuitOpen reports whether the webhook's circuit is open (it reports
// FAILING and only probes go out).
func (h Health) CircuitOpen() bool { return h.ConsecutiveFailures >= CircuitThreshold }

// WebhookConfig is how a webhook wants to be called. It is stored as JSON;
// the tags are the storage names.
type WebhookConfig struct {
	BasicAuthUsername    string        `json:"basic_auth_username,omitempty"`
	BasicAuthPassword    string        `json:"basic_auth_password,omitempty"`
	CustomHeaders        []Header      `json:"custom_headers,omitempty"`
	Format               string        `json:"format"`
	TimeoutSeconds       int           `json:"timeout_seconds"`
	MaxInFlight          int           `json:"max_in_flight"`
	MaxRetries           *int          `json:"max_retries,omitempty"`
	RetryIntervalSeconds *int          `json:"retry_interval_seconds,omitempty"`
	OAuth2               *OAuth2Config `json:"oauth2,omitempty"`
	// RateLimitPerSecond bounds how many requests per second the webhook
	// receives, across replicas (nil: no bound).
	RateLimitPerSecond *float64 `json:"rate_limit_per_second,omitempty"`
	// Ordered delivers one notification at a time in publish order; a
	// failing one holds back the rest until delivered or expired.
	Ordered bool `json:"ordered,omitempty"`
	// TLS is the client certificate presented on every connection of the
	// webhook (deliveries, pings, token requests) and the roots its
	// servers are verified with (nil: no client certificate, system roots).
	TLS *TLSConfig `json:"tls,omitempty"`
	// Signature is the signature scheme: SignatureEd25519, or "" for
	// SignatureHMAC (the default, and every webhook stored before there was
	// a choice).
	Signature string `json:"signature,omitempty"`
	// Filter, when set, lets only events whose payload passes it make
	// notifications for the webhook. It is kept out of the sealed config
	// (in a column of its own, in clear: it names payload values, no
	// credential), so that a publish reads it without decrypting anything.
	Filter *filter.Filter `json:"-"`
}

// SignatureScheme is the scheme the webhook signs with.
func (c *WebhookConfig) SignatureScheme() string {
	if c.Signature == "" {
		return SignatureHMAC
	}
	return c.Signature
}

// TLSConfig is a webhook's mutual TLS: PEM texts as registered, checked by
// the API (parseable, the key matches the certificate, not expired).
type TLSConfig struct {
	// ClientCertificate is the client certificate, then any intermediates.
	ClientCertificate string `json:"client_certificate"`
	ClientKey         string `json:"client_key"`
	// CACertificates, when set, are the only roots the webhook's servers
	// are verified with (a private PKI) instead of the system roots.
	CACertificates string `json:"ca_certificates,omitempty"`
	// ServerName is the name the endpoint's certificate is verified for
	// and sent as SNI, when it is not the endpoint's host.
	ServerName string `json:"server_name,omitempty"`
	// ClientCertificateExpires is the client certificate's NotAfter.
	ClientCertificateExpires time.Time `json:"client_certificate_expires"`
}

// CertificateWarning is how long before it expires a client certificate
// counts as expiring (the metric, the dashboard).
const CertificateWarning = 30 * 24 * time.Hour

// Header is one custom header sent with every delivery.
type Header struct {
	Name  string `json:"header_name"`
	Value string `json:"header_value"`
}

// OAuth2Config holds client-credentials grant settings.
type OAuth2Config struct {
	TokenURL     string `json:"token_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope,omitempty"`
}

// Subscribes reports whether the webhook wants events called name.
func (w *Webhook) Subscribes(name string) bool {
	for _, e := range w.Events {
		if e == name || e == "*" {
			return true
		}
	}
	return false
}

// Secrets lists the secrets that sign a delivery at now: the current one and,
// within its grace period, the previous one.
func (w *Webhook) Secrets(now time.Time) []string {
	if w.PreviousSecret != "" && now.Before(w.PreviousSecretUntil) {
		return []string{w.Secret, w.PreviousSecret}
	}
	return []string{w.Secret}
}

// Event is one message published by the platform, stored as published.
type Event struct {
	ID       string
	TenantID string
	Name     string
	Payload  json.RawMessage
	Created  time.Time
	// TraceParent is the W3C traceparent of the publish ("" untraced).
	TraceParent string
	// Subjects are the ids the event is about, read at publish.
	Subjects Subjects
	// Test marks a test event, sent to one webhook only (see
	// PublishRequest.Webhook).
	Test bool
}

// Notification statuses (SPEC section 3).
const (
	StatusPending   = "PENDING"
	StatusDelivered = "DELIVERED"
	StatusExpired   = "EXPIRED"
	StatusCancelled = "CANCELLED"
)

// Notification is one event addressed to one webhook.
type Notification struct {
	ID        string
	TenantID  string
	EventID   string
	WebhookID string
	EventName string
	Status    string
	// Attempts counts every attempt ever made; RetryBase is the value of
	// Attempts when the current retry budget began (a re-send starts a new
	// budget without renumbering attempts).
	Attempts      int
	RetryBase     int
	NextAttemptAt time.Time
	Created       time.Time
	Modified      time.Time
	Payload       json.RawMessage
	AttemptLog    []Attempt
	// Test: the notification is of a test event.
	Test bool
}

// Attempt is one HTTP request of a notification.
type Attempt struct {
	NotificationID string
	Number         int
	Started        time.Time
	Duration       time.Duration
	StatusCode     int
	ResponseBody   string
	// ErrorKind classifies a failure (timeout, connection_refused, dns, tls,
	// blocked_address, http_status, redirect, ...); empty on success.
	ErrorKind string
	Error     string
	// RequestHeaders are the headers sent, credentials masked;
	// ResponseHeaders the answer's (bounded). Attempts recorded before
	// headers were kept have none.
	RequestHeaders, ResponseHeaders []Header
}

// Page asks for one page of a listing: at most Limit items after the item
// whose id is After (empty: from the start).
type Page struct {
	Limit int
	After string
	// Payloads (notification searches only) asks for each notification's
	// event payload, at most MaxPayloadBytes of them in one page (0: no
	// bound): the page ends early, with HasMore, rather than pass it. Its
	// first notification always comes, so paging moves on.
	Payloads        bool
	MaxPayloadBytes int
	// Before (notification searches and event listings only), instead of
	// After, asks for the Limit items just newer than the item whose id it
	// is, still newest first.
	Before string
}

// Paging says where a listing continues.
type Paging struct {
	After   string
	HasMore bool
	// Before (notification searches and event listings only) is the id to
	// pass as Page.Before for the newer page; empty when this page holds
	// the newest items.
	Before string
}

// PublishRequest is one atomic publish of one or more events.
type PublishRequest struct {
	TenantID string
	Events   []Event
	// IdempotencyKey, when set, makes a repeat within IdempotencyWindow
	// return the first answer. RequestHash tells a true repeat from a reuse
	// of the key with another body.
	IdempotencyKey    string
	RequestHash       string
	IdempotencyWindow time.Duration
	Now               time.Time
	// MaxFanout bounds the notifications the request may create (0: no
	// bound); over it the publish fails with ErrFanout and stores nothing.
	MaxFanout int
	// Handoff, when set, takes the notifications it has room for straight
	// from this publish (see Handoff).
	Handoff Handoff
	// Webhook, when set, sends the events to this webhook of the tenant
	// alone, whatever it subscribes to or filters (a test event); a webhook
	// not found (deleted since) fails the publish with ErrNotFound.
	Webhook string
}

// NotificationRef names a notification created by a publish.
type NotificationRef struct {
	ID        string
	WebhookID string
}

// PublishedEvent is an event and the notifications it fanned out to.
type PublishedEvent struct {
	Event         Event
	Notifications []NotificationRef
}

// PublishResult answers a publish. Replayed is true when an earlier publish
// with the same idempotency key is returned instead.
type PublishResult struct {
	Events   []PublishedEvent
	Replayed bool
	// Queued is true when some notification was left for a claim (not
	// handed over at publish): a dispatcher has work to look for.
	Queued bool
}

// ReplayRequest asks for notifications of one webhook from the tenant's
// events published in [From, To) that it subscribes to and that pass its
// filter: what a client that was down past the retries, or registered
// late, missed.
type ReplayRequest struct {
	TenantID, WebhookID string
	From, To            time.Time
	// Events narrows the replay to these event names (nil: every event the
	// webhook subscribes to).
	Events []string
	// IncludeDelivered also replays events the webhook already has a
	// finished notification for (DELIVERED, EXPIRED or CANCELLED); without
	// it, an event with any notification of the webhook is skipped. An
	// event with a PENDING notification of the webhook is always skipped:
	// it is on its way.
	IncludeDelivered bool
	Now              time.Time
	// MaxFanout bounds the notifications one replay may create (0: no
	// bound); over it the replay fails with ErrFanout and creates nothing.
	MaxFanout int
}

// NotificationFilter selects notifications for search and re-send. Zero
// fields match everything.
type NotificationFilter struct {
	TenantID        string
	NotificationIDs []string
	EventID         string
	WebhookID       string
	EventName       string
	Status          string
	From, To        time.Time
	// Subjects match the notifications of events carrying every id set.
	Subjects Subjects
	// Final matches only notifications in a final status (DELIVERED,
	// EXPIRED or CANCELLED), when Status is empty.
	Final bool
}

// ClaimRequest asks for up to Limit due notifications of one webhook. When
// MaxInFlight is set, the claim also stops where the webhook would have more
// than MaxInFlight notifications leased in all (by any dispatcher).
type ClaimRequest struct {
	WebhookID   string
	Limit       int
	MaxInFlight int
	// MaxAhead is how many leases beyond MaxInFlight a claimer that holds
	// every live lease of the webhook may hold: notifications it buffers
	// ahead of its free slots and does not send until a slot frees. Where
	// leases count across replicas, what is sent and not yet recorded
	// still stays within MaxInFlight: another claimer gets nothing while
	// this one holds MaxInFlight or more, and a claimer that is not alone
	// gets no more than MaxInFlight in all.
	MaxAhead int
	// Ordered claims only the webhook's oldest pending notification, and
	// only when it is due.
	Ordered bool
	// RateLimit, when positive, bounds claims per second (a token bucket
	// in the database, with a burst of a tenth of a second's worth).
	RateLimit float64
}

// Claim leases due notifications to one dispatcher until LeaseUntil.
type Claim struct {
	Owner      string
	Now        time.Time
	LeaseUntil time.Time
	Requests   []ClaimRequest
}

// Claimed is a leased notification ready for an attempt. Attempt is the
// number of the attempt about to be made.
type Claimed struct {
	ID         string
	TenantID   string
	EventID    string
	WebhookID  string
	EventName  string
	Attempt    int
	RetryBase  int
	Payload    json.RawMessage
	Published  time.Time
	LeaseToken string
	// TraceParent is the publish's trace context (see Event).
	TraceParent string
}

// AttemptResult is the outcome of one attempt, to be recorded with the
// notification's next state. A result whose lease was lost (the lease ran out
// and another dispatcher took the notification) records the attempt only.
type AttemptResult struct {
	LeaseToken string
	WebhookID  string
	Attempt    Attempt
	// Status is the notification's new status: StatusDelivered,
	// StatusPending (retry at NextAttemptAt) or StatusExpired.
	Status        string
	NextAttemptAt time.Time
	// ProbeAt is when the webhook's circuit, if this failure leaves it
	// open, lets the next probe through.
	ProbeAt time.Time
}

// Completion is a batch of attempt results to record.
type Completion struct {
	Results []AttemptResult
	Now     time.Time
	// Health decides each webhook's health after each of its results, in
	// the order of Results (policy.Policy); the store persists it.
	Health HealthPolicy
}

// HealthPolicy folds one attempt result into its webhook's health.
type HealthPolicy interface {
	Record(h Health, r AttemptResult) (Health, HealthChange)
}

// HealthChange is what recording an attempt did to its webhook.
type HealthChange struct {
	// Opened: the circuit opened; Closed: an open circuit closed.
	Opened, Closed bool
	// Disable: the webhook failed without a success for too long and is
	// disabled.
	Disable bool
}

// WebhookChange is a change of one webhook's state made by a Completion,
// for the logs: its circuit opened or closed, it was disabled, or
// notifications of it expired.
type WebhookChange struct {
	WebhookID string
	TenantID  string
	HealthChange
	// Failures is the webhook's run of consecutive failures after the batch.
	Failures int
	// Expired counts the notifications this batch marked EXPIRED.
	Expired int
}

// PurgePolicy says what retention deletes (SPEC section 3). A zero time
// deletes nothing of its kind.
type PurgePolicy struct {
	// FinishedBefore: DELIVERED and CANCELLED notifications created and
	// last modified before it go, with their attempts; so do events created
	// before it that no longer have any notification.
	FinishedBefore time.Time
	// ExpiredBefore: EXPIRED notifications created and last modified before
	// it go, with their attempts.
	ExpiredBefore time.Time
	// IdempotencyBefore: idempotency keys recorded before it go.
	IdempotencyBefore time.Time
	// Batch is the most notifications (with their attempts), events or keys
	// deleted in one transaction (0: 500), so deliveries are never held up
	// for long.
	Batch int
	// Pause is how long to wait between two transactions, leaving the
	// database to deliveries meanwhile.
	Pause time.Duration
}

// Purged counts what a purge deleted.
type Purged struct {
	Notifications   int
	Attempts        int
	Events          int
	IdempotencyKeys int
}

// IncompleteError reports that a Completion recorded some of its results
// and that Results were not recorded because the database failed: they are
// to be retried.
type IncompleteError struct {
	Results []AttemptResult
	Err     error
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("%d attempt results not recorded: %v", len(e.Results), e.Err)
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// SetAsideError reports results a Completion could not record even one at
// a time: the others were recorded. Their notifications stay leased until
// the lease runs out and are then tried again, as after a crash.
type SetAsideError struct {
	Results []AttemptResult
	Errs    []error
}

func (e *SetAsideError) Error() string {
	return fmt.Sprintf("%d attempt results could not be recorded: %v", len(e.Results), errors.Join(e.Errs...))
}

// Handoff is an executor of this process that takes notifications straight
// from the publish that creates them (the dispatcher): they are leased to it
// in the publish transaction and handed over with their payload after the
// commit, with no claim and no payload read. What it has no room for stays
// unleased, for any replica to claim.
type Handoff interface {
	// Owner names the executor in leases.
	Owner() string
	// Reserve asks for a slot for one notification of s at now. When it
	// grants one, the notification is leased until leaseUntil, and the slot
	// is given back with Release if the publish fails, or used by Take.
	Reserve(s Subscriber, now time.Time) (leaseUntil time.Time, ok bool)
	Release(webhookID string, n int)
	// Take runs the notifications reserved by a committed publish.
	Take(claimed []Claimed)
}

// Subscriber is a webhook as a publish sees it in its transaction.
type Subscriber struct {
	ID       string
	Events   []string
	Modified time.Time
	Status   string
	Health   Health
	// Due: the webhook's wake time has come, so the queue may hold work of
	// it that new notifications must not overtake.
	Due bool
	// Leased counts the webhook's live leases held by other dispatchers
	// than the executor's, where several processes share the database
	// (else 0). The executor counts its own in the slots it holds.
	Leased int
	// Filter is the webhook's content filter (nil: none).
	Filter *filter.Filter
}
