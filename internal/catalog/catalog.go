// Package catalog knows the event types Herald accepts: the nCore events and
// the Network International token notification. Publishing an event whose
// name is not here is refused, and webhooks may only subscribe to these names
// (or to Wildcard).
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Wildcard subscribes a webhook to every event type.
const Wildcard = "*"

// NITokenNotification is the event name under which Network International
// token notifications (envelope types AC, TC, TD, TE) are published.
const NITokenNotification = "NI_TOKEN_NOTIFICATION"

// Type describes one event type of the catalogue.
type Type struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Variants    []string `json:"variants,omitempty"`
}

var types = []Type{
	{Name: "CARD_STATUS_CHANGE", Description: "A card moved from one status to another (for example ACTIVE to SUSPENDED)."},
	{Name: "TRANSACTION", Description: "A card authorization or an API wallet movement.",
		Variants: []string{"PURCHASE", "CASH_WITHDRAWAL", "BALANCE_INQUIRY", "REFUND", "REVERSAL", "WALLET_CREDIT", "WALLET_DEBIT", "WALLET_TRANSFER"}},
	{Name: "KYC_RESULT", Description: "The outcome of a user's KYC check.", Variants: []string{"SUBMITTED", "INCONCLUSIVE", "PASS"}},
	{Name: "USER_CREATED", Description: "A user was created."},
	{Name: "USER_STATUS_CHANGE", Description: "A user's status changed."},
	{Name: "USER_DOCUMENT_ALERT", Description: "A user's identity document is about to expire or has expired.",
		Variants: []string{"DOCUMENT_NEAR_EXPIRY", "DOCUMENT_EXPIRED"}},
	{Name: "IDENTITY_VERIFICATION", Description: "Identity verification started on user creation or its reason code changed.",
		Variants: []string{"USER_CREATION", "REASON_CODE_CHANGE"}},
	{Name: "PIN_CHANGE", Description: "A card's PIN was set or changed."},
	{Name: "EXPIRED_AUTH", Description: "An authorization hold expired without clearing."},
	{Name: "CHARGE_APPLIED", Description: "A fee or charge was applied to an account."},
	{Name: "ACCOUNT_STATUS_CHANGE", Description: "An account's status changed."},
	{Name: "CARD_PROVISIONING", Description: "A card was provisioned to a digital wallet."},
	{Name: "TOKEN_NOTIFICATION", Description: "A digital wallet token changed state."},
	{Name: "SUCCESSFULLY_CREATED", Description: "A card or an account was created.", Variants: []string{"card_created", "account_created"}},
	{Name: "CARD_DELIVERY_PARTNER_ASSIGNED", Description: "A delivery partner was assigned to a physical card."},
	{Name: "CARD_DELIVERY_STATUS_CHANGED", Description: "A physical card's delivery status changed."},
	{Name: NITokenNotification, Description: "Network International token notification (AC activation, TC completion, TD token events, TE token resume), delivered in the NI envelope.",
		Variants: []string{"AC", "TC", "TD", "TE"}},
}

// Catalog is the set of known event types. It is immutable and safe for
// concurrent use.
type Catalog struct {
	byName map[string]Type
}

// New returns the catalogue of every event type Herald knows.
func New() *Catalog {
	c := &Catalog{byName: make(map[string]Type, len(types))}
	for _, t := range types {
		c.byName[t.Name] = t
	}
	return c
}

// Types lists the event types in catalogue order. The result is a deep copy:
// changing it (its Variants included) does not change the catalogue.
func (c *Catalog) Types() []Type {
	out := slices.Clone(types)
	for i := range out {
		out[i].Variants = slices.Clone(out[i].Variants)
	}
	return out
}

// Lookup returns the event type called name.
func (c *Catalog) Lookup(name string) (Type, bool) {
	t, ok := c.byName[name]
	return t, ok
}

// Subscribable reports whether a webhook may subscribe to name.
func (c *Catalog) Subscribable(name string) bool {
	if name == Wildcard {
		return true
	}
	_, ok := c.byName[name]
	return ok
}

// PayloadError says why a payload cannot be published. Field is the JSON path
// of the offending member ("event"), empty when the whole body is at fault.
type PayloadError struct {
	Field   string
	Message string
}

func (e *PayloadError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// EventName reads the event name of a published payload and checks it against
// the catalogue. nCore payloads name themselves in "event"; a Network
// International envelope ({"id", "type", "timestamp", "details"}) with a token
// notification type is NITokenNotification.
func (c *Catalog) EventName(payload []byte) (string, error) {
	if !json.Valid(payload) {
		return "", &PayloadError{Message: "body is not valid JSON"}
	}
	if trimmed := bytes.TrimSpace(payload); len(trimmed) == 0 || trimmed[0] != '{' {
		return "", &PayloadError{Message: "the event must be a JSON object"}
	}
	// A map, not a struct: member names must match exactly ("EVENT" is not
	// "event"), as they will for every receiver.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(payload, &members); err != nil {
		return "", &PayloadError{Message: "body is not valid JSON: " + err.Error()}
	}
	var head struct{ Event, Type, Details *json.RawMessage }
	for name, ptr := range map[string]**json.RawMessage{"event": &head.Event, "type": &head.Type, "details": &head.Details} {
		if v, ok := members[name]; ok && string(v) != "null" {
			*ptr = &v
		}
	}
	if head.Event == nil {
		if head.Type != nil && head.Details != nil {
			// "type" is read only for an NI envelope: in an nCore payload it
			// is an ordinary member of any JSON type.
			var typ string
			if err := json.Unmarshal(*head.Type, &typ); err != nil {
				return "", &PayloadError{Field: "type", Message: "must be a string"}
			}
			t := c.byName[NITokenNotification]
			if slices.Contains(t.Variants, typ) {
				return NITokenNotification, nil
			}
			return "", &PayloadError{Field: "type", Message: fmt.Sprintf("unknown NI notification type %q", typ)}
		}
		return "", &PayloadError{Field: "event", Message: "is required"}
	}
	var name string
	if err := json.Unmarshal(*head.Event, &name); err != nil {
		return "", &PayloadError{Field: "event", Message: "must be a string"}
	}
	if name == NITokenNotification {
		return "", &PayloadError{Field: "event", Message: "NI token notifications are published as their envelope, without an event field"}
	}
	if _, ok := c.byName[name]; !ok {
		return "", &PayloadError{Field: "event", Message: fmt.Sprintf("unknown event %q", name)}
	}
	return name, nil
}
