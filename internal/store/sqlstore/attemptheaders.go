package sqlstore

import (
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/store"
)

// An attempt's headers are stored in one text column, as few bytes as will
// do, since every delivery writes them: "Name: value" lines, the request's,
// a blank line, the answer's ("" with none). HTTP header values hold no
// line breaks and names no colon, so the lines need no escaping. The
// request headers whose value follows from the attempt itself
// (derivedHeaders: its number, its notification's id, its start time, the
// content type) are left out when they hold that value and put back when
// read, and Herald-Event, which is always the notification's event, is
// always left out and put back.

// derivedHeaders are the values request headers take from the attempt.
func derivedHeaders(a *store.Attempt) map[string]string {
	return map[string]string{
		"Content-Type":      "application/json",
		"Herald-Attempt":    strconv.Itoa(a.Number),
		"Webhook-Id":        a.NotificationID,
		"Webhook-Timestamp": strconv.FormatInt(a.Started.Unix(), 10),
	}
}

// eventHeader is the request header naming the notification's event.
const eventHeader = "Herald-Event"

// encodeHeaders is the stored form of an attempt's headers.
func encodeHeaders(a store.Attempt) string {
	if len(a.RequestHeaders) == 0 && len(a.ResponseHeaders) == 0 {
		return ""
	}
	derived := derivedHeaders(&a)
	var b strings.Builder
	for _, h := range a.RequestHeaders {
		if v, ok := derived[h.Name]; (ok && v == h.Value) || h.Name == eventHeader {
			continue
		}
		b.WriteString(h.Name + ": " + h.Value + "\n")
	}
	b.WriteString("\n")
	for _, h := range a.ResponseHeaders {
		b.WriteString(h.Name + ": " + h.Value + "\n")
	}
	return b.String()
}

// decodeHeaders fills an attempt's headers from their stored form; event is
// its notification's event name.
func decodeHeaders(raw string, a *store.Attempt, event string) {
	if raw == "" {
		return
	}
	sent, received, _ := strings.Cut(raw, "\n\n")
	a.RequestHeaders, a.ResponseHeaders = headerLines(sent), headerLines(received)
	derived := derivedHeaders(a)
	derived[eventHeader] = event
	for _, h := range a.RequestHeaders {
		delete(derived, h.Name) // sent with another value than derived
	}
	for name, v := range derived {
		a.RequestHeaders = append(a.RequestHeaders, store.Header{Name: name, Value: v})
	}
	slices.SortStableFunc(a.RequestHeaders, func(x, y store.Header) int { return strings.Compare(x.Name, y.Name) })
}

func headerLines(s string) []store.Header {
	var out []store.Header
	for line := range strings.SplitSeq(strings.TrimSuffix(s, "\n"), "\n") {
		if name, v, ok := strings.Cut(line, ": "); ok {
			out = append(out, store.Header{Name: name, Value: v})
		}
	}
	return out
}
