package catalog

import "bytes"

// Subjects are the ids an event is about: a card issuer's first question is
// "what happened to card X?", so each event's ids are read at publish and
// stored where an index finds them. An empty member: the event carries none.
//
// Where they are read, in the one pass Validate makes over a payload anyway:
//   - CardID, UserID, AccountID: a string (or number) member card_id,
//     user_id or account_id of the root object or of an object that is a
//     member of it (card_transaction.card_id, charge_applied.account_id,
//     card_details.card_id); arrays are not looked into, and the first met
//     in the document wins;
//   - TransactionID: card_transaction.id of a TRANSACTION;
//   - a Network International envelope's card: details.card.id.value is its
//     CardID.
//
// A value longer than MaxSubjectLen bytes, holding a control character, or
// empty or "null" is not an id and is left out.
type Subjects struct {
	CardID, UserID, AccountID, TransactionID string
}

// MaxSubjectLen bounds a subject id (longer values are not indexed).
const MaxSubjectLen = 200

// subjectPath is where the scanner stands, as far as subject ids go.
type subjectPath uint8

const (
	subjNone     subjectPath = iota // below the levels that hold subject ids
	subjRoot                        // the root object
	subjMember                      // an object member of the root
	subjCardTxn                     // card_transaction
	subjDetails                     // details (of an NI envelope, or any member)
	subjNICard                      // details.card
	subjNICardID                    // details.card.id
)

// child is where the value of member name of an object at sp stands.
func (sp subjectPath) child(name string) subjectPath {
	switch sp {
	case subjRoot:
		switch name {
		case "card_transaction":
			return subjCardTxn
		case "details":
			return subjDetails
		}
		return subjMember
	case subjDetails:
		if name == "card" {
			return subjNICard
		}
	case subjNICard:
		if name == "id" {
			return subjNICardID
		}
	}
	return subjNone
}

// subjectScan collects candidate ids during a scan; which ones count
// depends on the event, named only once the scan is over (ids).
type subjectScan struct {
	found  Subjects // TransactionID: card_transaction.id, whatever the event
	niCard string
}

// member looks at member name of an object at sp, whose raw value is raw.
func (c *subjectScan) member(sp subjectPath, name string, raw []byte) {
	var dst *string
	switch sp {
	case subjRoot, subjMember, subjCardTxn, subjDetails:
		switch name {
		case "card_id":
			dst = &c.found.CardID
		case "user_id":
			dst = &c.found.UserID
		case "account_id":
			dst = &c.found.AccountID
		case "id":
			if sp == subjCardTxn {
				dst = &c.found.TransactionID
			}
		}
	case subjNICardID:
		if name == "value" {
			dst = &c.niCard
		}
	}
	if dst == nil || *dst != "" {
		return
	}
	if v, ok := subjectValue(raw); ok {
		*dst = v
	}
}

// ids are the subject ids of an event called name.
func (c *subjectScan) ids(name string) Subjects {
	s := c.found
	if name != "TRANSACTION" {
		s.TransactionID = ""
	}
	if name == NITokenNotification && c.niCard != "" {
		s.CardID = c.niCard
	}
	return s
}

// subjectValue reads a raw JSON value as an id: a string's text or a
// number's digits.
func subjectValue(raw []byte) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var v string
	switch c := raw[0]; {
	case c == '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			v = string(raw[1 : len(raw)-1])
		} else {
			v = decodeString(raw)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		v = string(raw)
	default:
		return "", false
	}
	if v == "" || v == "null" || len(v) > MaxSubjectLen {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return "", false
		}
	}
	return v, true
}
