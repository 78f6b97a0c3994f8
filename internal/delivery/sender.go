// Package delivery sends notifications to webhook endpoints: it claims due
// notifications from the queue, makes each attempt as an authenticated,
// signed HTTP POST, and records the outcome with the next retry or expiry.
package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/propagation"

	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/signature"
)

// ResponseExcerpt is how much of an answer body, and of an error text, the
// attempt log keeps (in bytes, cut on a rune boundary: see cleanText).
const ResponseExcerpt = 4 << 10

// DefaultTimeout applies to a webhook that sets no timeout_seconds.
const DefaultTimeout = 10 * time.Second

// Error kinds recorded in the attempt log.
const (
	ErrKindTimeout           = "timeout"
	ErrKindConnectionRefused = "connection_refused"
	ErrKindConnectionReset   = "connection_reset"
	ErrKindConnection        = "connection"
	ErrKindDNS               = "dns"
	ErrKindTLS               = "tls"
	ErrKindBlocked           = "blocked_address"
	ErrKindRedirect          = "redirect"
	ErrKindHTTPStatus        = "http_status"
	ErrKindNIResponse        = "ni_response"
	ErrKindRequest           = "request"
	// ErrKindProxy: the egress proxy was unreachable or refused the tunnel.
	ErrKindProxy = "proxy"
)

// Sender makes HTTP requests to webhook endpoints. One Sender is shared by
// every attempt so connections to an endpoint are reused.
type Sender struct {
	shared    clients     // every webhook without config.tls
	tls       *tlsClients // each webhook with config.tls
	tokens    *tokens
	userAgent string
}

// SenderOptions tune a Sender beyond its guard.
type SenderOptions struct {
	// MaxTLSTransports bounds the webhooks with config.tls whose transports
	// are kept (0: DefaultMaxTLSTransports).
	MaxTLSTransports int
	// Proxy, when set, is the HTTP CONNECT proxy every connection goes
	// through (see egress.ParseProxyURL); the guard still checks targets.
	Proxy *url.URL
	// Resolver resolves targets for the proxy (nil: the default).
	Resolver netguard.Resolver
}

// NewSender returns a Sender whose every connection passes guard.
func NewSender(guard netguard.Guard, userAgent string) *Sender {
	return NewSenderWith(guard, userAgent, SenderOptions{})
}

// NewSenderWith is NewSender with options.
func NewSenderWith(guard netguard.Guard, userAgent string, o SenderOptions) *Sender {
	dialer := egress.New(guard, o.Proxy, o.Resolver)
	transport := &http.Transport{
		// Not the transport's proxy support: it would hide the target from
		// the guard. The dialer tunnels through the proxy after the guard.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Sender{
		shared:    newClients(transport, transport, ""),
		tls:       newTLSClients(transport, o.MaxTLSTransports),
		tokens:    newTokens(),
		userAgent: userAgent,
	}
}

// clientsFor returns the clients of t's webhook: the shared ones, or those
// presenting its client certificate.
func (s *Sender) clientsFor(t *Target) (clients, error) {
	if t.tlsKey == "" {
		return s.shared, nil
	}
	return s.tls.get(&t.Webhook, t.tlsKey)
}

// Message is one request to send to a webhook.
type Message struct {
	ID        string // webhook-id: the notification id, stable across attempts
	Event     string
	Attempt   int
	Body      []byte
	Timestamp time.Time
}

// Outcome is what one request did.
type Outcome struct {
	Started      time.Time
	Duration     time.Duration
	StatusCode   int
	ResponseBody string
	ErrorKind    string
	Error        string
	// RetryAfter is the delay a 429 or 503 answer asked for, if any.
	RetryAfter time.Duration
	// RequestHeaders are the headers sent, credentials masked, and
	// ResponseHeaders the answer's, bounded (see headers.go).
	RequestHeaders, ResponseHeaders []store.Header
}

// OK reports whether the attempt succeeded.
func (o Outcome) OK() bool { return o.ErrorKind == "" }

// Send makes one attempt of m to the webhook described by t.
func (s *Sender) Send(ctx context.Context, t *Target, m Message) Outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout(&t.Webhook))
	defer cancel()
	out := Outcome{Started: time.Now()}
	var resp *http.Response
	var sent http.Header
	cl, err := s.clientsFor(t)
	switch {
	case err != nil:
	case t.Webhook.Config.OAuth2 == nil:
		resp, err = s.post(ctx, cl.endpoint, t, m, "", &sent)
	default:
		resp, err = s.postWithToken(ctx, cl, t, m, &sent)
	}
	out.RequestHeaders = sentHeaders(sent, &t.Webhook)
	if err != nil {
		out.Duration = time.Since(out.Started)
		out.ErrorKind, out.Error = classify(err), cleanText(err.Error(), ResponseExcerpt)
		return out
	}
	excerpt, readErr := io.ReadAll(io.LimitReader(resp.Body, ResponseExcerpt+utf8.UTFMax-1))
	// Drain a little more so the connection can be reused, then give up on it.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	out.Duration = time.Since(out.Started)
	out.StatusCode = resp.StatusCode
	out.ResponseBody = cleanText(string(excerpt), ResponseExcerpt)
	out.ResponseHeaders = receivedHeaders(resp.Header)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.ErrorKind = ErrKindRedirect
		out.Error = fmt.Sprintf("redirect %d to %q not followed", resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		out.ErrorKind = ErrKindHTTPStatus
		out.Error = fmt.Sprintf("endpoint answered %d", resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			out.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	case readErr != nil:
		out.ErrorKind, out.Error = classify(readErr), "reading answer: "+readErr.Error()
	case t.Webhook.Config.Format == store.FormatNI:
		if code, desc, ok := niResponseCode(excerpt); ok && code != "00" {
			out.ErrorKind = ErrKindNIResponse
			out.Error = fmt.Sprintf("NI response code %q: %s", code, desc)
		}
	}
	out.Error = cleanText(out.Error, ResponseExcerpt)
	return out
}

// post makes one request; bearer, when set, is the OAuth2 access token.
// sent is given the request's headers (Do leaves them as they were set).
func (s *Sender) post(ctx context.Context, client *http.Client, t *Target, m Message, bearer string, sent *http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Webhook.Endpoint, bytes.NewReader(m.Body))
	if err != nil {
		return nil, &requestError{err}
	}
	t.setHeaders(req.Header, m, s.userAgent)
	tracing.Propagator.Inject(ctx, propagation.HeaderCarrier(req.Header)) // traceparent, when traced
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	*sent = req.Header
	return client.Do(req)
}

// postWithToken makes the request with the webhook's OAuth2 token. A 401
// earns one fresh token and one immediate retry, within the same attempt.
// A token that cannot be had is a *tokenError.
func (s *Sender) postWithToken(ctx context.Context, cl clients, t *Target, m Message, sent *http.Header) (*http.Response, error) {
	src, gen := s.tokens.source(&t.Webhook, cl)
	tok, err := token(src)
	if err != nil {
		return nil, err
	}
	resp, err := s.post(ctx, cl.endpoint, t, m, tok.AccessToken, sent)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if tok, err = token(s.tokens.renew(&t.Webhook, cl, gen)); err != nil {
		return nil, fmt.Errorf("after a 401: %w", err)
	}
	return s.post(ctx, cl.endpoint, t, m, tok.AccessToken, sent)
}

// niResponseCode reads response.status.code from an NI answer, if present.
func niResponseCode(body []byte) (code, description string, ok bool) {
	var ans struct {
		Response *struct {
			Status *struct {
				Code        *string `json:"code"`
				Description string  `json:"description"`
			} `json:"status"`
		} `json:"response"`
	}
	if json.Unmarshal(body, &ans) != nil || ans.Response == nil || ans.Response.Status == nil || ans.Response.Status.Code == nil {
		return "", "", false
	}
	return *ans.Response.Status.Code, ans.Response.Status.Description, true
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	// ParseInt saturates out-of-range values (ErrRange): cap them instead of
	// letting time.Duration overflow into a negative or short wait.
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(policy.MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// requestError: the request could not even be built (a malformed endpoint).
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// classify names the kind of a transport error for the attempt log.
func classify(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var alertErr tls.AlertError
	var tokErr *tokenError
	var reqErr *requestError
	var proxyErr *egress.ProxyError
	switch {
	case errors.As(err, &tokErr):
		return ErrKindOAuth2Token
	case errors.Is(err, errClientTLS):
		return ErrKindTLS
	case errors.As(err, &reqErr):
		return ErrKindRequest
	case errors.Is(err, netguard.ErrBlocked):
		return ErrKindBlocked
	case errors.As(err, &proxyErr): // the proxy's own failures, its timeouts included
		return ErrKindProxy
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return ErrKindTimeout
	case errors.As(err, &dnsErr):
		return ErrKindDNS
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &recordErr), errors.As(err, &alertErr), isRemoteAlert(err):
		return ErrKindTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrKindConnectionRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrKindConnectionReset
	default:
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return ErrKindTimeout
		}
		return ErrKindConnection
	}
}

// isRemoteAlert reports a TLS alert from the server, such as its refusal of
// a client certificate ("remote error: tls: unknown certificate
// authority"): crypto/tls reports those as a net.OpError of op "remote
// error" around an unexported alert type.
func isRemoteAlert(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "remote error"
}

// Target is a webhook prepared for sending: its signer and authorization
// header are computed once, not per attempt.
type Target struct {
	Webhook       store.Webhook
	signer        *signature.Signer
	authorization string
	signUntil     time.Time // when the previous secret stops signing (zero: never rebuild)
	tlsKey        string    // names config.tls for the transport cache ("": none)
}

// NewTarget prepares w for sending at now.
func NewTarget(w store.Webhook, now time.Time) (*Target, error) {
	secrets := w.Secrets(now)
	signer, err := signature.NewSigner(secrets...)
	if err != nil {
		return nil, fmt.Errorf("webhook %s secret: %w", w.ID, err)
	}
	t := &Target{Webhook: w, signer: signer, tlsKey: tlsKey(w.Config.TLS)}
	if len(secrets) > 1 {
		t.signUntil = w.PreviousSecretUntil
	}
	if w.Config.BasicAuthUsername != "" || w.Config.BasicAuthPassword != "" {
		t.authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(w.Config.BasicAuthUsername+":"+w.Config.BasicAuthPassword))
	}
	return t, nil
}

// Stale reports whether t no longer matches its webhook as last modified at
// modified (it changed, or the previous secret's grace period ended by now).
func (t *Target) Stale(modified, now time.Time) bool {
	return !t.Webhook.Modified.Equal(modified) || (!t.signUntil.IsZero() && !now.Before(t.signUntil))
}

func (t *Target) setHeaders(h http.Header, m Message, userAgent string) {
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	for _, ch := range t.Webhook.Config.CustomHeaders {
		h.Add(ch.Name, ch.Value)
	}
	if t.authorization != "" {
		h.Set("Authorization", t.authorization)
	}
	h.Set("Herald-Event", m.Event)
	h.Set("Herald-Attempt", strconv.Itoa(m.Attempt))
	t.signer.SetHeaders(h, m.ID, m.Timestamp, m.Body)
}
