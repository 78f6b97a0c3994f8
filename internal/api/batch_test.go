package api

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestSplitBatch(t *testing.T) {
	for _, tc := range []struct {
		body  string
		want  []string
		field string // when refused
	}{
		{`{"events": [{"event":"A"}, {"event":"B","x":[1,{"y":"]}"}]}]}`, []string{`{"event":"A"}`, `{"event":"B","x":[1,{"y":"]}"}]}`}, ""},
		{` {"events":[]} `, nil, ""},
		{`{"events":["a\"]", 1, null, [1,2]]}`, []string{`"a\"]"`, `1`, `null`, `[1,2]`}, ""},
		{`{}`, nil, "events"},
		{`[]`, nil, ""},
		{`{"events": {}}`, nil, "events"},
		{`{"other": []}`, nil, "other"},
		{`{"events": [], "events": []}`, nil, "events"},
		{`{"events": [`, nil, ""},
		{`{"events": [1,`, nil, ""},
		{`{"events": [1}`, nil, "events"},
		{`{"events": [1]} x`, nil, ""},
		{`{"events": ["unterminated]}`, nil, "events[0]"},
	} {
		got, err := splitBatch([]byte(tc.body))
		if tc.want == nil && err == nil && tc.body != ` {"events":[]} ` {
			t.Errorf("splitBatch(%s) accepted: %q", tc.body, got)
			continue
		}
		if err != nil {
			if tc.want != nil || err.Field != tc.field {
				t.Errorf("splitBatch(%s) = error %q on field %q, want field %q", tc.body, err.Message, err.Field, tc.field)
			}
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("splitBatch(%s) = %q, want %q", tc.body, got, tc.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Errorf("splitBatch(%s)[%d] = %s, want %s", tc.body, i, got[i], tc.want[i])
			}
		}
	}
}

// FuzzSplitBatch: for every body that encoding/json reads as
// {"events": [...]}, splitBatch finds the same elements.
func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte(`{"events":[{"event":"PIN_CHANGE","card_id":"c"},{"a":"b\"c"}]}`))
	f.Add([]byte(`{"events":[1,"x",[],{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, aerr := splitBatch(body)
		var in struct {
			Events []json.RawMessage `json:"events"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&in) != nil || dec.More() || !json.Valid(body) {
			return // refused or not: each element is validated in full later
		}
		if bytes.Count(body, []byte(`"events"`)) != 1 || len(in.Events) == 0 {
			return // a repeated key, or nothing to publish: refused either way
		}
		if aerr != nil {
			if len(in.Events) > maxBatch {
				return
			}
			t.Fatalf("splitBatch refused %q: %v", body, aerr.Message)
		}
		if len(got) != len(in.Events) {
			t.Fatalf("splitBatch(%q) found %d events, encoding/json %d", body, len(got), len(in.Events))
		}
		for i := range got {
			if !bytes.Equal(bytes.TrimSpace(got[i]), bytes.TrimSpace(in.Events[i])) {
				t.Fatalf("event %d: %q vs %q", i, got[i], in.Events[i])
			}
		}
	})
}
