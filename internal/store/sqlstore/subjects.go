package sqlstore

import "github.com/heraldhq/herald/internal/store"

// An event's subject ids (store.Subjects) and test mark are written with
// it, in the same statement: NULL for an id the event does not carry, so
// the partial indexes of migration event_subjects hold only real ids.

// subjectColumns are the events columns written from Event.Subjects and
// Event.Test, in this order.
const subjectColumns = `card_id, user_id, account_id, transaction_id, test`

// subjectArrayTypes are the unnest parameters of subjectColumns.
const subjectArrayTypes = `?::text[], ?::text[], ?::text[], ?::text[], ?::smallint[]`

// orNull is a subject id as a parameter: nil for none.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func testFlag(t bool) int {
	if t {
		return 1
	}
	return 0
}

// appendSubjects appends an event's subjectColumns values to a row's args.
func appendSubjects(args []any, e store.Event) []any {
	s := e.Subjects
	return append(args, orNull(s.CardID), orNull(s.UserID), orNull(s.AccountID), orNull(s.TransactionID), testFlag(e.Test))
}

// subjectArrays are subjectColumns of a group of events, as arrays.
type subjectArrays struct {
	card, user, account, txn []*string
	test                     []int16
}

func newSubjectArrays(n int) *subjectArrays {
	return &subjectArrays{card: make([]*string, n), user: make([]*string, n), account: make([]*string, n),
		txn: make([]*string, n), test: make([]int16, n)}
}

func ref(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (a *subjectArrays) set(i int, e store.Event) {
	s := e.Subjects
	a.card[i], a.user[i], a.account[i], a.txn[i] = ref(s.CardID), ref(s.UserID), ref(s.AccountID), ref(s.TransactionID)
	a.test[i] = int16(testFlag(e.Test))
}

func (a *subjectArrays) args() []any { return []any{a.card, a.user, a.account, a.txn, a.test} }
