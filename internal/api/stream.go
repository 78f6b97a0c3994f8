package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald/internal/store"
)

// maxAnswerPayloads bounds the event payload bytes of one search answer:
// a page ends early (paging.has_more) rather than carry more. Events are
// at most 1 MiB, so a page always has room for several.
const maxAnswerPayloads = 8 << 20

// writeNotifications writes a 200 {"data": [...], "paging": {...}} answer
// one notification at a time, so the encoded answer is never held whole in
// memory: only the page read from the store is, bounded by its limit and
// maxAnswerPayloads, and one encoded notification.
//
// HTML characters are not escaped (a payload is shown as published, and
// the answer stays within the byte budget); the answer says nosniff so no
// browser reads it as anything but JSON. Once the status is sent an error
// can no longer be answered: a notification that cannot be encoded (a
// stored payload that is not JSON) aborts the connection, so the client
// sees a broken answer, never a short one that looks complete.
func (s *server) writeNotifications(w http.ResponseWriter, r *http.Request, notes []store.Notification, paging store.Paging) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString(`{"data":[`)
	for i, n := range notes {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(toNotificationJSON(n)); err != nil {
			s.Logger.Error("encode search answer", "path", r.URL.Path, "notification", n.ID, "err", err)
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return // the client is gone
		}
		buf.Reset()
	}
	buf.WriteString(`],"paging":`)
	if err := enc.Encode(twoWayPagingJSON(paging)); err != nil {
		panic(http.ErrAbortHandler) // a twoWayPaging always encodes
	}
	buf.WriteString("}\n")
	_, _ = w.Write(buf.Bytes())
}
