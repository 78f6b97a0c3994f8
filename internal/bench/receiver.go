package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The receiver's routes. Every POST under /ok/<tag>/ is answered 200 at
// once, counted under <tag> and recorded; under /fail/ it is answered 500;
// under /hang/ it is held until the client gives up.
const (
	pathOK    = "/ok/"
	pathFail  = "/fail/"
	pathHang  = "/hang/"
	pathStats = "/_stats"
	pathDrain = "/_drain"
)

// maxHang bounds how long a /hang/ request is held when the client never
// gives up.
const maxHang = 10 * time.Minute

// RunReceiver is the benchmark receiver, run as its own process by `herald
// bench-receiver`: it listens on 127.0.0.1:0, prints its base URL as the
// first line of stdout, and serves until ctx ends or stdin reaches its end
// (the bench holds stdin open, so the receiver never outlives it).
//
// It does as little as it can per request: read the body, count, record
// (webhook-id, receive time). GET /_stats answers the counts as JSON; GET
// /_drain answers the records kept since the last drain (see parseRecords)
// and forgets them, or with ?discard=1 only forgets them.
func RunReceiver(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("receiver: listen: %w", err)
	}
	srv := &http.Server{Handler: newReceiver(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "http://%s\n", ln.Addr()); err != nil {
		srv.Close()
		return fmt.Errorf("receiver: print address: %w", err)
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	select {
	case err := <-served:
		return fmt.Errorf("receiver: serve: %w", err)
	case <-ctx.Done():
	}
	// Hanging requests would hold a graceful shutdown: close at once.
	if err := srv.Close(); err != nil {
		return fmt.Errorf("receiver: close: %w", err)
	}
	return nil
}

// receiverStats is the answer of GET /_stats.
type receiverStats struct {
	// OK counts /ok/ requests by tag (the path segment after /ok/).
	OK map[string]int64 `json:"ok"`
	// Fail and Hang count /fail/ and /hang/ requests.
	Fail int64 `json:"fail"`
	Hang int64 `json:"hang"`
	// Buffered is how many records wait for the next drain.
	Buffered int64 `json:"buffered"`
}

// total is every request counted, of every route.
func (s receiverStats) total() int64 {
	n := s.Fail + s.Hang
	for _, v := range s.OK {
		n += v
	}
	return n
}

// receiver is the receiver's handler.
type receiver struct {
	mu       sync.Mutex
	ok       map[string]int64
	fail     int64
	hang     int64
	records  []byte
	buffered int64
}

func newReceiver() *receiver { return &receiver{ok: make(map[string]int64)} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, pathOK) && r.Method == http.MethodPost:
		_, _ = io.Copy(io.Discard, r.Body)
		now := time.Now().UnixNano()
		tag := p[len(pathOK):]
		if i := strings.IndexByte(tag, '/'); i >= 0 {
			tag = tag[:i]
		}
		id := r.Header.Get("Webhook-Id")
		if len(id) > 255 {
			id = id[:255]
		}
		rc.mu.Lock()
		rc.ok[tag]++
		rc.records = append(rc.records, byte(len(id)))
		rc.records = append(rc.records, id...)
		rc.records = binary.BigEndian.AppendUint64(rc.records, uint64(now))
		rc.buffered++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(p, pathFail) && r.Method == http.MethodPost:
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.fail++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	case strings.HasPrefix(p, pathHang) && r.Method == http.MethodPost:
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.hang++
		rc.mu.Unlock()
		t := time.NewTimer(maxHang)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C:
		}
	case p == pathStats && r.Method == http.MethodGet:
		rc.mu.Lock()
		st := receiverStats{OK: make(map[string]int64, len(rc.ok)), Fail: rc.fail, Hang: rc.hang, Buffered: rc.buffered}
		for k, v := range rc.ok {
			st.OK[k] = v
		}
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	case p == pathDrain && r.Method == http.MethodGet:
		rc.mu.Lock()
		recs := rc.records
		rc.records, rc.buffered = nil, 0
		rc.mu.Unlock()
		if r.URL.Query().Get("discard") != "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(recs)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// record is one /ok/ request the receiver saw.
type record struct {
	// ID is the request's webhook-id header (Herald's notification id).
	ID string
	// At is the receive time in Unix nanoseconds.
	At int64
}

// errShortRecord reports a truncated /_drain answer.
var errShortRecord = errors.New("truncated record")

// parseRecords reads a /_drain answer: records of one length byte, that
// many bytes of webhook-id, and the receive time as a big-endian uint64 of
// Unix nanoseconds.
func parseRecords(b []byte, fn func(record)) error {
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+8 {
			return fmt.Errorf("parse receiver records: %w", errShortRecord)
		}
		fn(record{ID: string(b[1 : 1+n]), At: int64(binary.BigEndian.Uint64(b[1+n:]))})
		b = b[1+n+8:]
	}
	return nil
}
