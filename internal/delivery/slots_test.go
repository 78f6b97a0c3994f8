package delivery

import (
	"testing"
)

func TestSlotsGrantShares(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		busy     map[string]int
		wants    []want
		// want is the grant of each of wants.
		want []int
	}{
		{"two hungry webhooks split the cap above the reserve", 10, nil,
			[]want{{"a", 256}, {"b", 256}}, []int{5, 4}},
		{"max_in_flight bounds a grant", 10, nil,
			[]want{{"a", 3}, {"b", 256}}, []int{3, 6}},
		{"the busiest gets the least", 16, map[string]int{"a": 8},
			[]want{{"a", 256}, {"b", 256}}, []int{0, 6}},
		{"a webhook holding all but the reserve gets nothing; a new one gets its small share", 16, map[string]int{"a": 14},
			[]want{{"a", 256}, {"b", 256}}, []int{0, 2}},
		{"a full service grants nothing", 8, map[string]int{"a": 8},
			[]want{{"a", 256}, {"b", 256}}, []int{0, 0}},
		{"the least busy is served first, whatever the order", 4, map[string]int{"a": 1, "b": 1, "c": 1},
			[]want{{"a", 256}, {"b", 256}, {"c", 256}, {"x", 256}}, []int{0, 0, 0, 1}},
		{"a small cap has no reserve", 4, nil,
			[]want{{"a", 256}}, []int{4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlots(tc.capacity)
			for id, n := range tc.busy {
				s.per[id], s.total = n, s.total+n
			}
			got := s.grant(tc.wants)
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("grants = %v, want %v", got, tc.want)
				}
			}
			if s.total > tc.capacity {
				t.Fatalf("%d slots held, over the cap %d", s.total, tc.capacity)
			}
		})
	}
}

func TestSlotsTakeAndRelease(t *testing.T) {
	s := newSlots(16) // reserve 2
	for i := range 14 {
		if !s.tryTake("a", 256) {
			t.Fatalf("take %d refused below the reserve", i)
		}
	}
	if s.tryTake("a", 256) {
		t.Fatal("a busy webhook took a reserved slot")
	}
	for i := range 2 {
		if !s.tryTake("b", 256) {
			t.Fatalf("a new webhook found no reserved slot (take %d)", i)
		}
	}
	if s.tryTake("c", 256) {
		t.Fatal("took a slot over the cap")
	}
	if s.tryTake("b", 1) {
		t.Fatal("took a slot over max_in_flight")
	}
	s.release("a", 14)
	s.release("b", 2)
	if s.used() != 0 || len(s.per) != 0 {
		t.Fatalf("after releasing everything: %d used, %v", s.used(), s.per)
	}
}
