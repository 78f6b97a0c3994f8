package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/heraldhq/herald/internal/filter"
	"github.com/heraldhq/herald/internal/store"
)

// Content filters at publish: which subscribers an event goes to. Each
// payload is read once per event, for the filters of every subscriber at
// once (filter.Plan), and only when some subscriber of the tenant filters.

// fanOut lists, for each event, the indexes in hooks of the webhooks it
// makes a notification for (subscribed to its name, passing their filter),
// and how many notifications that makes in all.
func fanOut(events []store.Event, hooks []store.Subscriber) (receivers [][]int, total int) {
	var plan *filter.Plan
	for i := range hooks {
		if hooks[i].Filter != nil {
			plan = subscriberPlan(hooks)
			break
		}
	}
	receivers = make([][]int, len(events))
	for k, e := range events {
		var values filter.Values
		read := false
		for i := range hooks {
			h := &hooks[i]
			if !subscribes(h.Events, e.Name) {
				continue
			}
			if h.Filter != nil {
				if !read {
					values, read = plan.Read(e.Payload), true
				}
				if !plan.Match(i, values) {
					continue
				}
			}
			receivers[k] = append(receivers[k], i)
		}
		total += len(receivers[k])
	}
	return receivers, total
}

// subscriberPlan prepares the filters of hooks, filter i for hooks[i].
func subscriberPlan(hooks []store.Subscriber) *filter.Plan {
	fs := make([]*filter.Filter, len(hooks))
	for i := range hooks {
		fs[i] = hooks[i].Filter
	}
	return filter.NewPlan(fs)
}

// subscriberFilter decodes a subscriber's stored filter ("" for none), once
// per modification of the webhook: publishes read it for every subscriber.
func (s *Store) subscriberFilter(id string, modified int64, raw string) (*filter.Filter, error) {
	if raw == "" {
		return nil, nil
	}
	if v, ok := s.filters.Load(id); ok && v.(storedFilter).modified == modified {
		return v.(storedFilter).filter, nil
	}
	f, err := decodeFilter(id, raw)
	if err != nil {
		return nil, err
	}
	s.filters.Store(id, storedFilter{modified: modified, filter: f})
	return f, nil
}

// storedFilter is a webhook's decoded filter as of a modification.
type storedFilter struct {
	modified int64
	filter   *filter.Filter
}

// encodeFilter is a filter's column value: "" for none.
func encodeFilter(f *filter.Filter) (string, error) {
	if f.Empty() {
		return "", nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("encode webhook filter: %w", err)
	}
	return string(b), nil
}

func decodeFilter(id, raw string) (*filter.Filter, error) {
	if raw == "" {
		return nil, nil
	}
	f := new(filter.Filter)
	if err := json.Unmarshal([]byte(raw), f); err != nil {
		return nil, fmt.Errorf("decode webhook %s filter: %w", id, err)
	}
	return f, nil
}
