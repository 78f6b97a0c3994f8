package delivery

import (
	"container/heap"
	"slices"
	"sync"
)

// slots is the service-wide bound on concurrent attempts, shared fairly
// across webhooks. Every attempt holds one slot from before it is claimed
// (or handed over at publish) until its result is queued for recording, so
// goroutines, sockets and payloads in memory never exceed the cap whatever
// tenants register.
//
// Fairness: a webhook with fewer than smallShare attempts in flight may use
// any free slot; a busier one only the slots above a reserve kept for the
// others. So a webhook with 256 slots of max_in_flight aimed at an endpoint
// that never answers cannot take them all: a newly busy webhook always finds
// a slot at once. Within a pass, free slots are shared by water-filling: the
// webhook with the fewest in flight gets the next one.
type slots struct {
	mu      sync.Mutex
	cap     int
	reserve int
	total   int
	per     map[string]int
}

// smallShare is how many attempts in flight a webhook may always have while
// any slot is free.
const smallShare = 2

func newSlots(capacity int) *slots {
	reserve := 0
	if capacity >= 8 {
		reserve = capacity / 8
	}
	return &slots{cap: capacity, reserve: reserve, per: make(map[string]int)}
}

// room is how many more slots a webhook with i in flight may take now.
func (s *slots) room(i int) int {
	if i < smallShare {
		return s.cap - s.total
	}
	return s.cap - s.reserve - s.total
}

// tryTake takes one slot for webhook id if it has fewer than max in flight
// and the fairness rule allows it.
func (s *slots) tryTake(id string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.per[id]
	if i >= max || s.room(i) <= 0 {
		return false
	}
	s.per[id] = i + 1
	s.total++
	return true
}

// release gives back n slots of webhook id.
func (s *slots) release(id string, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.per[id] -= n
	s.total -= n
	if s.per[id] <= 0 {
		delete(s.per, id)
	}
}

// inFlight is how many slots webhook id holds.
func (s *slots) inFlight(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.per[id]
}

// used is how many slots are held in all.
func (s *slots) used() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// want is one webhook asking for slots: it may hold up to max.
type want struct {
	id  string
	max int
}

// grant takes slots for the webhooks of wants, shared fairly, and returns
// how many each got (in the order of wants). The caller releases what it
// does not use.
func (s *slots) grant(wants []want) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := make([]int, len(wants))
	// First every webhook below smallShare, from any free slot, the least
	// busy first: a webhook with nothing in flight is served before busy
	// ones take their slots back, whatever the order of wants.
	order := make([]int, len(wants))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return s.per[wants[a].id] - s.per[wants[b].id] })
	for _, i := range order {
		w := wants[i]
		for s.per[w.id] < min(smallShare, w.max) && s.cap-s.total > 0 {
			s.per[w.id]++
			s.total++
			got[i]++
		}
	}
	// Then water-filling above the reserve: the lowest level first.
	h := levels{}
	for i, w := range wants {
		if s.per[w.id] < w.max {
			h = append(h, level{i: i, n: s.per[w.id]})
		}
	}
	heap.Init(&h)
	for len(h) > 0 && s.cap-s.reserve-s.total > 0 {
		l := &h[0]
		w := wants[l.i]
		s.per[w.id]++
		s.total++
		got[l.i]++
		l.n++
		if l.n >= w.max {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return got
}

type level struct{ i, n int }

// levels is a min-heap of webhooks by slots held.
type levels []level

func (h levels) Len() int { return len(h) }
func (h levels) Less(a, b int) bool {
	if h[a].n != h[b].n {
		return h[a].n < h[b].n
	}
	return h[a].i < h[b].i
}
func (h levels) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *levels) Push(x any)   { *h = append(*h, x.(level)) }
func (h *levels) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
