package source_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/brokertest"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/heraldtest"
)

// sourceState is the answer of GET /sources/{id}.
type sourceState struct {
	ID       string `json:"id"`
	Rejected int64  `json:"rejected"`
	State    struct {
		State      string  `json:"state"`
		LastError  *string `json:"last_error"`
		Published  int64   `json:"published"`
		Duplicates int64   `json:"duplicates"`
		Rejected   int64   `json:"rejected"`
	} `json:"state"`
}

func createSource(t *testing.T, in *heraldtest.Instance, body map[string]any) string {
	t.Helper()
	r := in.Admin(t, "POST", "/sources", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create source: %d %s", r.Status, r.Body)
	}
	return r.Map(t)["id"].(string)
}

func getSource(t *testing.T, in *heraldtest.Instance, id string) sourceState {
	t.Helper()
	r := in.Admin(t, "GET", "/sources/"+id, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get source: %d %s", r.Status, r.Body)
	}
	var s sourceState
	r.JSON(t, &s)
	return s
}

// waitConsumed waits until the source has published and found duplicate
// (at least) as many messages as given, and rejected exactly rejected.
func waitConsumed(t *testing.T, in *heraldtest.Instance, id string, published, duplicates, rejected int64) sourceState {
	t.Helper()
	var s sourceState
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("source state: %+v", s)
		}
	})
	heraldtest.Eventually(t, 60*time.Second, fmt.Sprintf("%d published, %d duplicates, %d rejected", published, duplicates, rejected), func() bool {
		s = getSource(t, in, id)
		return s.State.Published >= published && s.State.Duplicates >= duplicates && s.State.Rejected >= rejected
	})
	return s
}

type rejectedAnswer struct {
	Data []struct {
		MessageID string `json:"message_id"`
		Error     string `json:"error"`
		Field     string `json:"field"`
		Payload   string `json:"payload"`
		Size      int    `json:"size"`
	} `json:"data"`
}

func rejected(t *testing.T, in *heraldtest.Instance, id string) rejectedAnswer {
	t.Helper()
	r := in.Admin(t, "GET", "/sources/"+id+"/rejected", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("rejected: %d %s", r.Status, r.Body)
	}
	var out rejectedAnswer
	r.JSON(t, &out)
	return out
}

// receiver counts deliveries by webhook-id.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string]int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.got[r.Header.Get("Webhook-Id")]++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// subscribeAll registers a webhook for every event, delivered to rc.
func subscribeAll(t *testing.T, in *heraldtest.Instance, rc *receiver) {
	t.Helper()
	r := in.Admin(t, "POST", "/webhooks", map[string]any{"endpoint": rc.URL, "events": []string{"*"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", r.Status, r.Body)
	}
}

// card is a valid event payload, different for every n.
func card(n int) []byte {
	b, _ := json.Marshal(map[string]any{"event": "CARD_STATUS_CHANGE", "card_status_change": map[string]any{
		"card_id": fmt.Sprintf("card-%d", n), "old_status": "ACTIVE", "new_status": "SUSPENDED"}})
	return b
}

// cards are n valid messages with ids prefix-0, prefix-1, ...
func cards(prefix string, from, n int) []brokertest.Message {
	out := make([]brokertest.Message, n)
	for i := range out {
		out[i] = brokertest.Message{ID: fmt.Sprintf("%s-%d", prefix, from+i), Body: card(from + i)}
	}
	return out
}

// niEnvelope is the catalogue's NI token completion, published as its
// envelope.
func niEnvelope(t *testing.T) []byte {
	t.Helper()
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := cat.Sample(catalog.NITokenNotification, "TC")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invalid are messages every source must reject, by message id, with the
// field each is refused for.
var invalid = []struct {
	msg   brokertest.Message
	field string
}{
	{brokertest.Message{ID: "bad-json", Body: []byte(`{"event": "CARD_STATUS_CHANGE"`)}, ""},
	{brokertest.Message{ID: "unknown-event", Body: []byte(`{"event": "CARD_EXPLODED"}`)}, "event"},
	{brokertest.Message{ID: "not-utf8", Body: []byte("\xff\xfe\x00binary")}, ""},
}
