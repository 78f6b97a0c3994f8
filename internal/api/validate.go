package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// webhookInput is the body of POST and PUT /webhooks. Absent members leave
// the webhook as it is (on create: the defaults).
type webhookInput struct {
	Endpoint *string      `json:"endpoint"`
	Events   []string     `json:"events"`
	Status   *string      `json:"status"`
	Config   *configInput `json:"config"`
}

// configInput is config of a webhook body. The credentials are nullable:
// null clears them as "" (or [] for custom_headers) does.
type configInput struct {
	BasicAuthUsername    nullable[string]        `json:"basic_auth_username"`
	BasicAuthPassword    nullable[string]        `json:"basic_auth_password"`
	CustomHeaders        nullable[[]headerInput] `json:"custom_headers"`
	Format               *string                 `json:"format"`
	TimeoutSeconds       *int                    `json:"timeout_seconds"`
	MaxInFlight          *int                    `json:"max_in_flight"`
	MaxRetries           json.RawMessage         `json:"max_retries"`
	RetryIntervalSeconds json.RawMessage         `json:"retry_interval_seconds"`
	OAuth2               json.RawMessage         `json:"oauth2"`
	RateLimitPerSecond   json.RawMessage         `json:"rate_limit_per_second"`
	Ordered              *bool                   `json:"ordered"`
	Signature            nullable[string]        `json:"signature"`
	Filter               json.RawMessage         `json:"filter"`
	TLS                  json.RawMessage         `json:"tls"`
	// Created and Modified appear inside config in the nCore samples; they
	// are accepted and ignored.
	Created  json.RawMessage `json:"created"`
	Modified json.RawMessage `json:"modified"`
}

type oauth2Input struct {
	TokenURL     *string `json:"token_url"`
	ClientID     *string `json:"client_id"`
	ClientSecret *string `json:"client_secret"`
	Scope        *string `json:"scope"`
}

type headerInput struct {
	Name  *string `json:"header_name"`
	Value *string `json:"header_value"`
}

// Limits of SPEC section 2 and a few more a service needs.
const (
	maxEndpointLen   = 2048
	maxCustomHeaders = 20
	maxHeaderName    = 256
	maxHeaderValue   = 4096
	maxInFlightLimit = 256
	maxRetriesLimit  = 100
	maxRetryInterval = 7 * 24 * 3600
	maxRateLimit     = 10000
)

// forbiddenHeaders may not be set as custom headers: Herald sets them, or
// they would break the HTTP exchange. Names are compared after
// reservedName.
var forbiddenHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "authorization": true,
	"transfer-encoding": true, "connection": true, "te": true, "upgrade": true, "trailer": true,
	"keep-alive": true, "proxy-authorization": true, "proxy-connection": true, "user-agent": true,
}

// apply validates in and writes it over h, the webhook as stored (empty on
// create). It reads nothing from the store; check resolves hosts (nil: not
// again, see hostCheck).
func (s *server) apply(in *webhookInput, h *store.Webhook, check hostCheck) *apiError {
	presented := origins(h) // where the stored client certificate went so far
	moved := false          // the endpoint moves to another origin
	if in.Endpoint != nil {
		endpoint, err := s.checkURL(*in.Endpoint, "endpoint", check)
		if err != nil {
			return err
		}
		moved = h.Endpoint != "" && !sameOrigin(h.Endpoint, endpoint)
		h.Endpoint = endpoint
	}
	if in.Events != nil {
		if len(in.Events) == 0 {
			return invalid("events", "must name at least one event")
		}
		seen := make(map[string]bool, len(in.Events))
		for i, e := range in.Events {
			field := "events[" + strconv.Itoa(i) + "]"
			if !s.Catalog.Subscribable(e) {
				return invalid(field, "unknown event %q", e)
			}
			if seen[e] {
				return invalid(field, "event %q is listed twice", e)
			}
			seen[e] = true
		}
		h.Events = append([]string(nil), in.Events...)
	}
	if in.Status != nil {
		switch *in.Status {
		case store.WebhookActive:
			if h.Status != store.WebhookActive || h.Health.CircuitOpen() {
				// Enabling (again) starts with a clean record and a
				// closed circuit: delivery resumes at once.
				h.Health.ConsecutiveFailures, h.Health.FailingSince, h.Health.CircuitOpenUntil = 0, time.Time{}, time.Time{}
			}
			h.Status = store.WebhookActive
		case store.WebhookDisabled:
			h.Status = store.WebhookDisabled
		case "FAILING":
			return invalid("status", "FAILING is reported by Herald and cannot be set")
		default:
			return invalid("status", "must be ACTIVE or DISABLED")
		}
	}
	if in.Config != nil {
		if err := applyConfig(in.Config, &h.Config, moved); err != nil {
			return err
		}
		if err := s.applyOAuth2(in.Config.OAuth2, &h.Config, moved, check); err != nil {
			return err
		}
		if err := applySignature(in.Config.Signature, h); err != nil {
			return err
		}
	}
	if err := s.applyFilter(in, h); err != nil {
		return err
	}
	if moved {
		if err := resendOnMove(in.Config, h.Config); err != nil {
			return err
		}
	}
	var tlsRaw json.RawMessage
	if in.Config != nil {
		tlsRaw = in.Config.TLS
	}
	if err := applyTLS(tlsRaw, h, presented); err != nil {
		return err
	}
	if h.Config.OAuth2 != nil && (h.Config.BasicAuthUsername != "" || h.Config.BasicAuthPassword != "") {
		return invalid("config.oauth2", "cannot be combined with basic auth: set basic_auth_username and basic_auth_password to \"\" or oauth2 to null")
	}
	return nil
}

// applyOAuth2 reads config.oauth2: absent keeps it, null removes it, an
// object replaces it (a masked client_secret keeps the stored one, unless
// the endpoint or the token URL moves to another origin).
func (s *server) applyOAuth2(raw json.RawMessage, c *store.WebhookConfig, moved bool, check hostCheck) *apiError {
	if len(raw) == 0 {
		return nil
	}
	if isNull(raw) {
		c.OAuth2 = nil
		return nil
	}
	var in oauth2Input
	if err := decodeBytes(raw, &in); err != nil {
		if err.Field != "" {
			err.Field = "config.oauth2." + err.Field
		} else {
			err.Field = "config.oauth2"
		}
		return err
	}
	if in.TokenURL == nil || *in.TokenURL == "" {
		return invalid("config.oauth2.token_url", "is required")
	}
	tokenURL, aerr := s.checkURL(*in.TokenURL, "config.oauth2.token_url", check)
	if aerr != nil {
		return aerr
	}
	if in.ClientID == nil || *in.ClientID == "" {
		return invalid("config.oauth2.client_id", "is required")
	}
	secret := ""
	switch {
	case in.ClientSecret == nil || *in.ClientSecret == "":
		return invalid("config.oauth2.client_secret", "is required")
	case *in.ClientSecret == mask:
		if c.OAuth2 == nil {
			return invalid("config.oauth2.client_secret", "is masked but no client secret is stored")
		}
		if moved {
			return invalid("config.oauth2.client_secret", "%s", movedMessage("the client secret"))
		}
		if !sameOrigin(c.OAuth2.TokenURL, tokenURL) {
			return invalid("config.oauth2.client_secret", "is masked, but the stored client secret is not sent to a new token_url origin (scheme, host or port): send it again")
		}
		secret = c.OAuth2.ClientSecret
	default:
		secret = *in.ClientSecret
	}
	next := &store.OAuth2Config{TokenURL: tokenURL, ClientID: *in.ClientID, ClientSecret: secret}
	if in.Scope != nil {
		next.Scope = *in.Scope
	}
	for field, v := range map[string]string{"client_id": next.ClientID, "client_secret": next.ClientSecret, "scope": next.Scope} {
		if msg := checkHeaderValue(v); msg != "" {
			return invalid("config.oauth2."+field, "%s", msg)
		}
	}
	c.OAuth2 = next
	return nil
}

// applyConfig writes the members of config but oauth2 over c; moved says
// the endpoint moves to another origin, where masked credentials do not
// follow.
func applyConfig(in *configInput, c *store.WebhookConfig, moved bool) *apiError {
	if u := in.BasicAuthUsername; u.Set {
		if strings.Contains(u.Value, ":") {
			return invalid("config.basic_auth_username", "must not contain ':'")
		}
		if err := checkHeaderValue(u.Value); err != "" {
			return invalid("config.basic_auth_username", "%s", err)
		}
		c.BasicAuthUsername = u.Value
	}
	if p := in.BasicAuthPassword; p.Set && p.Value == mask {
		if c.BasicAuthPassword == "" {
			return invalid("config.basic_auth_password", "is masked but no password is stored")
		}
		if moved {
			return invalid("config.basic_auth_password", "%s", movedMessage("the password"))
		}
	} else if p.Set {
		if err := checkHeaderValue(p.Value); err != "" {
			return invalid("config.basic_auth_password", "%s", err)
		}
		c.BasicAuthPassword = p.Value
	}
	if c.BasicAuthPassword != "" && c.BasicAuthUsername == "" {
		return invalid("config.basic_auth_username", "is required with basic_auth_password")
	}
	if in.CustomHeaders.Set {
		headers, err := checkHeaders(in.CustomHeaders.Value, c.CustomHeaders, moved)
		if err != nil {
			return err
		}
		c.CustomHeaders = headers
	}
	if in.Format != nil {
		switch *in.Format {
		case store.FormatNCore, store.FormatNI:
			c.Format = *in.Format
		default:
			return invalid("config.format", "must be %q or %q", store.FormatNCore, store.FormatNI)
		}
	}
	if in.TimeoutSeconds != nil {
		if *in.TimeoutSeconds < 1 || *in.TimeoutSeconds > 30 {
			return invalid("config.timeout_seconds", "must be between 1 and 30")
		}
		c.TimeoutSeconds = *in.TimeoutSeconds
	}
	if in.MaxInFlight != nil {
		if *in.MaxInFlight < 1 || *in.MaxInFlight > maxInFlightLimit {
			return invalid("config.max_in_flight", "must be between 1 and %d", maxInFlightLimit)
		}
		c.MaxInFlight = *in.MaxInFlight
	}
	if in.Ordered != nil {
		c.Ordered = *in.Ordered
	}
	if len(in.RateLimitPerSecond) > 0 {
		if isNull(in.RateLimitPerSecond) {
			c.RateLimitPerSecond = nil
		} else {
			var v float64
			if err := json.Unmarshal(in.RateLimitPerSecond, &v); err != nil {
				return invalid("config.rate_limit_per_second", "must be a number or null")
			}
			if v < 0.01 || v > maxRateLimit {
				return invalid("config.rate_limit_per_second", "must be between 0.01 and %d", maxRateLimit)
			}
			c.RateLimitPerSecond = &v
		}
	}
	var err *apiError
	if c.MaxRetries, err = nullableInt(in.MaxRetries, c.MaxRetries, "config.max_retries", 0, maxRetriesLimit); err != nil {
		return err
	}
	if c.RetryIntervalSeconds, err = nullableInt(in.RetryIntervalSeconds, c.RetryIntervalSeconds, "config.retry_interval_seconds", 1, maxRetryInterval); err != nil {
		return err
	}
	return nil
}

// checkHeaders validates custom headers. A value sent back masked keeps the
// value stored for that header name, the n-th header of a name taking the
// n-th stored value of that name (so a GET answer can be PUT back, even
// with a header listed twice), unless the endpoint moved to another origin.
func checkHeaders(in []headerInput, old []store.Header, moved bool) ([]store.Header, *apiError) {
	if len(in) > maxCustomHeaders {
		return nil, invalid("config.custom_headers", "at most %d custom headers are allowed", maxCustomHeaders)
	}
	out := make([]store.Header, 0, len(in))
	nth := make(map[string]int, len(in)) // lower-case name -> headers of that name so far
	for i, h := range in {
		field := "config.custom_headers[" + strconv.Itoa(i) + "]"
		if h.Name == nil || *h.Name == "" {
			return nil, invalid(field+".header_name", "is required")
		}
		name := *h.Name
		if len(name) > maxHeaderName {
			return nil, invalid(field+".header_name", "is longer than %d bytes", maxHeaderName)
		}
		if !isToken(name) {
			return nil, invalid(field+".header_name", "%q is not a valid HTTP header name", name)
		}
		lower := strings.ToLower(name)
		n := nth[lower]
		nth[lower]++
		if reserved := reservedName(name); forbiddenHeaders[reserved] || strings.HasPrefix(reserved, "webhook-") || strings.HasPrefix(reserved, "herald-") {
			return nil, invalid(field+".header_name", "%s is set by Herald and cannot be a custom header", name)
		}
		if h.Value == nil {
			return nil, invalid(field+".header_value", "is required")
		}
		value := *h.Value
		if value == mask && moved {
			return nil, invalid(field+".header_value", "%s", movedMessage("the value of "+name))
		}
		if value == mask {
			found := false
			for _, o := range old {
				if !strings.EqualFold(o.Name, name) {
					continue
				}
				if n == 0 {
					value, found = o.Value, true
					break
				}
				n--
			}
			if !found {
				return nil, invalid(field+".header_value", "is masked but no stored value exists for %s", name)
			}
		}
		if len(value) > maxHeaderValue {
			return nil, invalid(field+".header_value", "is longer than %d bytes", maxHeaderValue)
		}
		if msg := checkHeaderValue(value); msg != "" {
			return nil, invalid(field+".header_value", "%s", msg)
		}
		out = append(out, store.Header{Name: name, Value: value})
	}
	return out, nil
}

// nullableInt reads an optional integer member: absent keeps old, null
// clears it, a number must lie in [lo, hi].
func nullableInt(raw json.RawMessage, old *int, field string, lo, hi int) (*int, *apiError) {
	if len(raw) == 0 {
		return old, nil
	}
	if isNull(raw) {
		return nil, nil
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, invalid(field, "must be an integer or null")
	}
	if v < lo || v > hi {
		return nil, invalid(field, "must be between %d and %d", lo, hi)
	}
	return &v, nil
}

// reservedName is a header name as it is compared with the reserved ones:
// case does not matter, and "_" counts as "-" because some servers and
// proxies (CGI, nginx, many frameworks) read Webhook_Signature as
// webhook-signature.
func reservedName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// isToken reports whether s is an RFC 9110 token (a valid header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// checkHeaderValue says what is wrong with a header value, if anything.
func checkHeaderValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Sprintf("contains a control character at byte %d", i)
		}
	}
	return ""
}
