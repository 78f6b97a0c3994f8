package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Event names: the "event" member of the nCore events, and
// EventNITokenNotification for the NI envelope types AC, TC, TD and TE.
const (
	EventCardStatusChange            = "CARD_STATUS_CHANGE"
	EventTransaction                 = "TRANSACTION"
	EventKYCResult                   = "KYC_RESULT"
	EventUserCreated                 = "USER_CREATED"
	EventUserStatusChange            = "USER_STATUS_CHANGE"
	EventUserDocumentAlert           = "USER_DOCUMENT_ALERT"
	EventIdentityVerification        = "IDENTITY_VERIFICATION"
	EventPINChange                   = "PIN_CHANGE"
	EventExpiredAuth                 = "EXPIRED_AUTH"
	EventChargeApplied               = "CHARGE_APPLIED"
	EventAccountStatusChange         = "ACCOUNT_STATUS_CHANGE"
	EventCardProvisioning            = "CARD_PROVISIONING"
	EventTokenNotification           = "TOKEN_NOTIFICATION"
	EventSuccessfullyCreated         = "SUCCESSFULLY_CREATED"
	EventCardDeliveryPartnerAssigned = "CARD_DELIVERY_PARTNER_ASSIGNED"
	EventCardDeliveryStatusChanged   = "CARD_DELIVERY_STATUS_CHANGED"
	EventNITokenNotification         = "NI_TOKEN_NOTIFICATION"
)

// EventPing is the event name of the body Herald sends to test a webhook
// (POST /webhooks/{id}:ping). It is not a catalogue event.
const EventPing = "PING"

// Event is a parsed notification. Every concrete type of this package
// implements it through its pointer (Parse returns *TransactionPurchase,
// *KYCResultPass, ...), so a type switch names pointer types.
type Event interface {
	// EventName is the catalogue name of the event: "TRANSACTION",
	// "NI_TOKEN_NOTIFICATION", ...
	EventName() string
	// VariantName is the catalogue name of the variant ("PURCHASE", "PASS",
	// "AC", ...), or "" for an event without variants and for the base type
	// of an event whose variant was not recognised.
	VariantName() string
}

// Errors Parse reports for a body it cannot read as an event.
var (
	ErrInvalidJSON = errors.New("receiver: body is not valid JSON")
	ErrNotObject   = errors.New("receiver: body is not a JSON object")
	ErrNoEvent     = errors.New("receiver: body names no event")
)

// UnknownEventError is returned by Parse for a body that names an event this
// package does not know: an unknown "event" member or, with Envelope set, an
// NI envelope with an unknown "type".
type UnknownEventError struct {
	Name     string // the "event" member, or the envelope's "type"
	Envelope bool   // Name comes from an NI envelope's "type"
}

func (e *UnknownEventError) Error() string {
	if e.Envelope {
		return fmt.Sprintf("receiver: unknown NI notification type %q", e.Name)
	}
	return fmt.Sprintf("receiver: unknown event %q", e.Name)
}

// Ping is the body Herald sends to test a webhook:
// {"event": "PING", "webhook_id", "timestamp"}. It is not a catalogue event,
// but a receiver gets it, so Parse knows it.
type Ping struct {
	Event     string `json:"event"`
	WebhookID string `json:"webhook_id,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
}

// EventName returns "PING".
func (*Ping) EventName() string { return EventPing }

// VariantName returns "".
func (*Ping) VariantName() string { return "" }

// present as a value of a variant rule means "the member is present", as in
// the catalogue's "match".
const present = "<present>"

// variantRule identifies one variant: every dotted member path of match must
// hold its string value (or, for present, exist). The rules are the
// catalogue's "match" (internal/catalog/data/catalog.json), duplicated here
// so that this package stands alone; a test checks they agree.
type variantRule struct {
	name  string
	match map[string]string
	new   func() Event
}

// eventType is one event of the catalogue: its base type and its variants,
// tried in order.
type eventType struct {
	name     string
	new      func() Event
	variants []variantRule
}

func transactionRule(messageType, transactionType string, newEvent func() Event) variantRule {
	return variantRule{transactionType, map[string]string{
		"card_transaction.message_type":     messageType,
		"card_transaction.transaction_type": transactionType,
	}, newEvent}
}

func valueRule(path, value string, newEvent func() Event) variantRule {
	return variantRule{value, map[string]string{path: value}, newEvent}
}

// eventTypes lists the catalogue in its order.
var eventTypes = []eventType{
	{name: EventCardStatusChange, new: func() Event { return new(CardStatusChange) }},
	{name: EventTransaction, new: func() Event { return new(Transaction) }, variants: []variantRule{
		transactionRule("AUTHORIZATION", "PURCHASE", func() Event { return new(TransactionPurchase) }),
		transactionRule("AUTHORIZATION", "CASH_WITHDRAWAL", func() Event { return new(TransactionCashWithdrawal) }),
		transactionRule("AUTHORIZATION", "BALANCE_INQUIRY", func() Event { return new(TransactionBalanceInquiry) }),
		transactionRule("AUTHORIZATION", "REFUND", func() Event { return new(TransactionRefund) }),
		transactionRule("AUTHORIZATION", "REVERSAL", func() Event { return new(TransactionReversal) }),
		transactionRule("API", "WALLET_CREDIT", func() Event { return new(TransactionWalletCredit) }),
		transactionRule("API", "WALLET_DEBIT", func() Event { return new(TransactionWalletDebit) }),
		transactionRule("API", "WALLET_TRANSFER", func() Event { return new(TransactionWalletTransfer) }),
	}},
	{name: EventKYCResult, new: func() Event { return new(KYCResult) }, variants: []variantRule{
		valueRule("status", "SUBMITTED", func() Event { return new(KYCResultSubmitted) }),
		valueRule("status", "INCONCLUSIVE", func() Event { return new(KYCResultInconclusive) }),
		valueRule("status", "PASS", func() Event { return new(KYCResultPass) }),
	}},
	{name: EventUserCreated, new: func() Event { return new(UserCreated) }},
	{name: EventUserStatusChange, new: func() Event { return new(UserStatusChange) }},
	{name: EventUserDocumentAlert, new: func() Event { return new(UserDocumentAlert) }, variants: []variantRule{
		valueRule("alert_type", "DOCUMENT_NEAR_EXPIRY", func() Event { return new(UserDocumentAlertNearExpiry) }),
		valueRule("alert_type", "DOCUMENT_EXPIRED", func() Event { return new(UserDocumentAlertExpired) }),
	}},
	{name: EventIdentityVerification, new: func() Event { return new(IdentityVerification) }, variants: []variantRule{
		{"USER_CREATION", map[string]string{"sdk_token": present}, func() Event { return new(IdentityVerificationUserCreation) }},
		{"REASON_CODE_CHANGE", map[string]string{"old_status_reason_code": present}, func() Event { return new(IdentityVerificationReasonCodeChange) }},
	}},
	{name: EventPINChange, new: func() Event { return new(PINChange) }},
	{name: EventExpiredAuth, new: func() Event { return new(ExpiredAuth) }},
	{name: EventChargeApplied, new: func() Event { return new(ChargeApplied) }},
	{name: EventAccountStatusChange, new: func() Event { return new(AccountStatusChange) }},
	{name: EventCardProvisioning, new: func() Event { return new(CardProvisioning) }},
	{name: EventTokenNotification, new: func() Event { return new(TokenNotification) }},
	{name: EventSuccessfullyCreated, new: func() Event { return new(SuccessfullyCreated) }, variants: []variantRule{
		valueRule("event_type", "card_created", func() Event { return new(SuccessfullyCreatedCard) }),
		valueRule("event_type", "account_created", func() Event { return new(SuccessfullyCreatedAccount) }),
	}},
	{name: EventCardDeliveryPartnerAssigned, new: func() Event { return new(CardDeliveryPartnerAssigned) }},
	{name: EventCardDeliveryStatusChanged, new: func() Event { return new(CardDeliveryStatusChanged) }},
	{name: EventNITokenNotification, new: func() Event { return new(NITokenNotification) }, variants: []variantRule{
		valueRule("type", "AC", func() Event { return new(NITokenNotificationAC) }),
		valueRule("type", "TC", func() Event { return new(NITokenNotificationTC) }),
		valueRule("type", "TD", func() Event { return new(NITokenNotificationTD) }),
		valueRule("type", "TE", func() Event { return new(NITokenNotificationTE) }),
	}},
}

var (
	eventsByName = func() map[string]*eventType {
		m := make(map[string]*eventType, len(eventTypes))
		for i := range eventTypes {
			m[eventTypes[i].name] = &eventTypes[i]
		}
		return m
	}()
	pingType = &eventType{name: EventPing, new: func() Event { return new(Ping) }}
)

// KnownEvents returns the names of the catalogue's events, in catalogue
// order (EventPing is not among them).
func KnownEvents() []string {
	names := make([]string, len(eventTypes))
	for i, t := range eventTypes {
		names[i] = t.name
	}
	return names
}

// Parse reads a notification body into the concrete type of its event and
// variant, and returns a pointer to it (*TransactionPurchase,
// *KYCResultPass, *NITokenNotificationAC, ...).
//
// The event is named by the body's "event" member. A body without one that
// is an NI envelope ({"id", "type", "timestamp", "details"}) with type AC,
// TC, TD or TE is an NI_TOKEN_NOTIFICATION; an NI envelope whose type is an
// nCore event name is that event wrapped for a format ni webhook, and Parse
// returns the event in "details". The variant is chosen by the catalogue's
// rules (a member value such as card_transaction.transaction_type, or the
// presence of a member); when none matches, Parse returns the event's base
// type (*Transaction, *KYCResult, ...), whose VariantName is "".
//
// Errors: ErrInvalidJSON, ErrNotObject, ErrNoEvent (no string "event" and no
// NI envelope), *UnknownEventError, or a decode error when a member has a
// type the event's Go type cannot hold (such as a number for a string
// member).
func Parse(body []byte) (Event, error) {
	return parse(body, true)
}

func parse(body []byte, envelope bool) (Event, error) {
	if !json.Valid(body) {
		return nil, ErrInvalidJSON
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, ErrNotObject
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if raw, ok := member(top, "event"); ok {
		name, ok := jsonString(raw)
		if !ok {
			return nil, fmt.Errorf("%w: member \"event\" is not a string", ErrNoEvent)
		}
		t := eventsByName[name]
		if name == EventPing {
			t = pingType
		}
		if t == nil || name == EventNITokenNotification {
			// An NI token notification is its envelope, never an "event".
			return nil, &UnknownEventError{Name: name}
		}
		return decode(t, top, body)
	}
	rawType, hasType := member(top, "type")
	details, hasDetails := member(top, "details")
	if !envelope || !hasType || !hasDetails {
		return nil, fmt.Errorf("%w: no \"event\" member, and not an NI envelope with \"type\" and \"details\"", ErrNoEvent)
	}
	typ, ok := jsonString(rawType)
	if !ok {
		return nil, fmt.Errorf("%w: NI envelope member \"type\" is not a string", ErrNoEvent)
	}
	ni := eventsByName[EventNITokenNotification]
	for _, v := range ni.variants {
		if v.name == typ {
			return decode(ni, top, body)
		}
	}
	if _, known := eventsByName[typ]; known || typ == EventPing {
		// An nCore event delivered to a format ni webhook: the payload is
		// in details.
		ev, err := parse(details, false)
		if err != nil {
			return nil, fmt.Errorf("receiver: NI envelope of %s: %w", typ, err)
		}
		if ev.EventName() != typ {
			return nil, fmt.Errorf("receiver: NI envelope of type %s wraps event %s", typ, ev.EventName())
		}
		return ev, nil
	}
	return nil, &UnknownEventError{Name: typ, Envelope: true}
}

// decode picks t's variant and unmarshals body into it.
func decode(t *eventType, top map[string]json.RawMessage, body []byte) (Event, error) {
	ev := t.new()
	doc := members{top: top}
	for _, v := range t.variants {
		if doc.matches(v.match) {
			ev = v.new()
			break
		}
	}
	if err := json.Unmarshal(body, ev); err != nil {
		return nil, fmt.Errorf("receiver: decode %s: %w", t.name, err)
	}
	return ev, nil
}

// member returns the member name of obj unless it is absent or JSON null.
func member(obj map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := obj[name]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// members looks up dotted member paths in a decoded top-level object,
// decoding each nested object once.
type members struct {
	top    map[string]json.RawMessage
	nested map[string]map[string]json.RawMessage // by path; nil: not an object
}

// lookup returns the member at a dotted path ("card_transaction.id"), even
// when it is JSON null.
func (m *members) lookup(path string) (json.RawMessage, bool) {
	obj := m.top
	parts := strings.Split(path, ".")
	for i, part := range parts {
		raw, ok := obj[part]
		if !ok {
			return nil, false
		}
		if i == len(parts)-1 {
			return raw, true
		}
		prefix := strings.Join(parts[:i+1], ".")
		next, seen := m.nested[prefix]
		if !seen {
			if json.Unmarshal(raw, &next) != nil {
				next = nil
			}
			if m.nested == nil {
				m.nested = make(map[string]map[string]json.RawMessage)
			}
			m.nested[prefix] = next
		}
		if next == nil {
			return nil, false
		}
		obj = next
	}
	return nil, false
}

// matches reports whether every path of match holds its value (a JSON string
// equal to it) or, for present, exists.
func (m *members) matches(match map[string]string) bool {
	if len(match) == 0 {
		return false
	}
	for path, want := range match {
		raw, ok := m.lookup(path)
		if !ok {
			return false
		}
		if want == present {
			continue
		}
		if got, ok := jsonString(raw); !ok || got != want {
			return false
		}
	}
	return true
}
