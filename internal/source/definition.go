// Package source consumes events from the platform's message brokers
// (RabbitMQ queues, NATS JetStream streams) and publishes each message as
// POST /events would: the same catalogue check, group commit, idempotency
// (the broker's message id is the key) and fan-out. A message is
// acknowledged to its broker only after the transaction holding its event
// and notifications has committed, and an invalid one is recorded and
// dead-lettered (AMQP reject without requeue, NATS Term), never dropped
// silently and never left to block its queue.
package source

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/heraldhq/herald/internal/store"
)

// Mask replaces credentials in answers.
const Mask = "********"

// FieldError says which member of a source definition is wrong.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// maxURL bounds a source's URL (a NATS one may list several servers).
const maxURL = 4096

var (
	// natsName is a stream or durable consumer name: no whitespace, no
	// subject wildcards or separators, no path separators.
	natsName = regexp.MustCompile(`^[^\s.*>/\\]{1,255}$`)
	// natsSubject is a subject filter: non-empty tokens without
	// whitespace, "*" and a final ">" as wildcards.
	natsSubject = regexp.MustCompile(`^[^\s.]+(\.[^\s.]+)*$`)
)

// Check validates a source definition (type, URL, and the members of its
// type; tenant and status are the caller's), returning a *FieldError that
// names the member at fault.
func Check(src store.Source) error {
	switch src.Type {
	case store.SourceRabbitMQ:
		if err := checkURLs(src.URL, false, "amqp", "amqps"); err != nil {
			return err
		}
		if src.Queue == "" {
			return fieldErr("queue", "is required for a rabbitmq source")
		}
		if len(src.Queue) > 255 || !printable(src.Queue) {
			return fieldErr("queue", "must be 1 to 255 bytes without control characters")
		}
		for _, f := range []struct{ name, v string }{{"stream", src.Stream}, {"subject", src.Subject}, {"durable", src.Durable}} {
			if f.v != "" {
				return fieldErr(f.name, "is for nats sources only")
			}
		}
	case store.SourceNATS:
		if err := checkURLs(src.URL, true, "nats", "tls"); err != nil {
			return err
		}
		if src.Queue != "" {
			return fieldErr("queue", "is for rabbitmq sources only")
		}
		if src.Stream == "" {
			return fieldErr("stream", "is required for a nats source")
		}
		if !natsName.MatchString(src.Stream) {
			return fieldErr("stream", "must be 1 to 255 characters without whitespace, '.', '*', '>', '/' or '\\'")
		}
		if src.Durable == "" {
			return fieldErr("durable", "is required for a nats source (the consumer every replica shares)")
		}
		if !natsName.MatchString(src.Durable) {
			return fieldErr("durable", "must be 1 to 255 characters without whitespace, '.', '*', '>', '/' or '\\'")
		}
		if src.Subject != "" && (len(src.Subject) > 255 || !natsSubject.MatchString(src.Subject) || !printable(src.Subject)) {
			return fieldErr("subject", "must be a subject such as cards.events or cards.>")
		}
	case "":
		return fieldErr("type", "is required")
	default:
		return fieldErr("type", "must be rabbitmq or nats")
	}
	return nil
}

// checkURLs checks a broker URL: absolute, one of schemes, with a host;
// several comma-separated ones when list is set (NATS servers).
func checkURLs(raw string, list bool, schemes ...string) error {
	if raw == "" {
		return fieldErr("url", "is required")
	}
	if len(raw) > maxURL || !printable(raw) || strings.ContainsAny(raw, " \t") {
		return fieldErr("url", "must be at most %d bytes without whitespace or control characters", maxURL)
	}
	parts := []string{raw}
	if list {
		parts = strings.Split(raw, ",")
	}
	for _, p := range parts {
		u, err := url.Parse(p)
		if err != nil || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
			return fieldErr("url", "must be an absolute URL such as %s://user:password@host:port", schemes[0])
		}
		ok := false
		for _, s := range schemes {
			ok = ok || u.Scheme == s
		}
		if !ok {
			return fieldErr("url", "must use %s", strings.Join(schemes, " or "))
		}
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// MaskURL hides the credentials of a broker URL (or comma-separated list):
// a password becomes Mask, and so does a user given alone (a NATS token).
func MaskURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(p)
		if err != nil {
			parts[i] = Mask
			continue
		}
		if u.User == nil {
			continue
		}
		if _, hasPassword := u.User.Password(); hasPassword {
			u.User = url.UserPassword(u.User.Username(), Mask)
		} else {
			u.User = url.User(Mask)
		}
		// url escapes '*' in a password, not in a user name.
		parts[i] = strings.Replace(u.String(), strings.Repeat("%2A", len(Mask)), Mask, 1)
	}
	return strings.Join(parts, ",")
}

// scrub removes a source URL's credentials from an error message (client
// libraries sometimes quote the URL they dialled).
func scrub(msg, raw string) string {
	for _, p := range strings.Split(raw, ",") {
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			continue
		}
		msg = strings.ReplaceAll(msg, p, MaskURL(p))
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, Mask)
		} else if name := u.User.Username(); name != "" {
			msg = strings.ReplaceAll(msg, name, Mask)
		}
	}
	return msg
}
