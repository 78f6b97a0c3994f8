package store

import "time"

// Subjects are the ids an event is about (catalog.Subjects, read at
// publish), so that its notifications can be found by card, user, account
// or transaction through an index. "": the event carries none.
type Subjects struct {
	CardID, UserID, AccountID, TransactionID string
}

// IsZero reports whether no id is set.
func (s Subjects) IsZero() bool { return s == Subjects{} }

// EventFilter selects a tenant's events (GET /events). Zero fields match
// everything.
type EventFilter struct {
	TenantID string
	Name     string
	From, To time.Time
	Subjects Subjects
}
