package receiver

// CardStatusChange is the CARD_STATUS_CHANGE event: a card moved from one
// status to another.
type CardStatusChange struct {
	Event            string                  `json:"event"`
	CardStatusChange CardStatusChangeDetails `json:"card_status_change"`
}

// EventName returns "CARD_STATUS_CHANGE".
func (*CardStatusChange) EventName() string { return EventCardStatusChange }

// VariantName returns "" (CARD_STATUS_CHANGE has no variants).
func (*CardStatusChange) VariantName() string { return "" }

// CardStatusChangeDetails is the card_status_change object.
type CardStatusChangeDetails struct {
	CardID           string      `json:"card_id"`
	OldStatus        string      `json:"old_status,omitempty"`         // e.g. ACTIVE
	NewStatus        string      `json:"new_status,omitempty"`         // e.g. SUSPENDED
	StatusReasonCode string      `json:"status_reason_code,omitempty"` // e.g. S0
	Note             *StatusNote `json:"note,omitempty"`
}

// StatusNote is the note attached to a card status change.
type StatusNote struct {
	Category    string `json:"category,omitempty"`
	Description string `json:"description,omitempty"` // e.g. First time activation
	// Extras is free-form extra data, decoded as by encoding/json into
	// map[string]any (an empty object stays an empty, non-nil map).
	Extras map[string]any `json:"extras,omitzero"`
}

// PINChange is the PIN_CHANGE event: the PIN of a card changed.
type PINChange struct {
	Event            string `json:"event"`
	UserID           string `json:"user_id,omitempty"`
	CardID           string `json:"card_id"`
	CardStatus       string `json:"card_status,omitempty"`        // e.g. ACTIVE
	CardStatusReason string `json:"card_status_reason,omitempty"` // e.g. A0
	Created          string `json:"created,omitempty"`
}

// EventName returns "PIN_CHANGE".
func (*PINChange) EventName() string { return EventPINChange }

// VariantName returns "" (PIN_CHANGE has no variants).
func (*PINChange) VariantName() string { return "" }

// ChargeApplied is the CHARGE_APPLIED event: a charge applied to a card and
// account.
type ChargeApplied struct {
	Event         string        `json:"event"`
	ChargeApplied ChargeDetails `json:"charge_applied"`
}

// EventName returns "CHARGE_APPLIED".
func (*ChargeApplied) EventName() string { return EventChargeApplied }

// VariantName returns "" (CHARGE_APPLIED has no variants).
func (*ChargeApplied) VariantName() string { return "" }

// ChargeDetails is the charge_applied object.
type ChargeDetails struct {
	ID          string `json:"id"`
	CardID      string `json:"card_id,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
	ChargeID    string `json:"charge_id,omitempty"`
	ChargeType  string `json:"charge_type,omitempty"` // e.g. PHYSICAL_CARD_ISSUANCE
	Amount      Amount `json:"amount,omitzero"`
	Currency    string `json:"currency,omitempty"`
	Description string `json:"description,omitempty"`
}

// AccountStatusChange is the ACCOUNT_STATUS_CHANGE event.
type AccountStatusChange struct {
	Event     string `json:"event"`
	OldStatus string `json:"old_status,omitempty"`
	NewStatus string `json:"new_status,omitempty"`
	AccountID string `json:"account_id"`
	Note      string `json:"note,omitempty"`
}

// EventName returns "ACCOUNT_STATUS_CHANGE".
func (*AccountStatusChange) EventName() string { return EventAccountStatusChange }

// VariantName returns "" (ACCOUNT_STATUS_CHANGE has no variants).
func (*AccountStatusChange) VariantName() string { return "" }

// TokenProvisioning holds the members that CARD_PROVISIONING and
// TOKEN_NOTIFICATION share (the newer document adds them to both). It is
// embedded in both event types, so its members are those events' own.
type TokenProvisioning struct {
	PANSource                  string `json:"pan_source,omitempty"`          // e.g. MOBILE_BANKING_APP
	ConsumerEntryMode          string `json:"consumer_entry_mode,omitempty"` // e.g. KEY_ENTERED
	Timestamp                  string `json:"timestamp,omitempty"`
	DeviceIPAddressV4          string `json:"device_ip_address_v4,omitempty"`
	ClientWalletAccountID      string `json:"client_wallet_account_id,omitempty"`
	TokenExpirationDate        string `json:"token_expiration_date,omitempty"` // MM/YYYY
	NumberOfActiveTokensForPAN *int   `json:"number_of_active_tokens_for_pan,omitempty"`
}

// CardProvisioning is the CARD_PROVISIONING event: a card was provisioned
// into a digital wallet.
type CardProvisioning struct {
	Event            string `json:"event"`
	UserID           string `json:"user_id,omitempty"`
	CardID           string `json:"card_id"`
	Network          string `json:"network,omitempty"`           // e.g. VISA
	WalletIdentifier string `json:"wallet_identifier,omitempty"` // e.g. APPLEPAY
	TokenNumber      string `json:"token_number,omitempty"`
	TokenType        string `json:"token_type,omitempty"` // e.g. SECURE_ELEMENT
	DeviceName       string `json:"device_name,omitempty"`
	DeviceType       string `json:"device_type,omitempty"`
	Status           string `json:"status,omitempty"` // e.g. APPROVED
	Created          string `json:"created,omitempty"`
	TokenProvisioning
}

// EventName returns "CARD_PROVISIONING".
func (*CardProvisioning) EventName() string { return EventCardProvisioning }

// VariantName returns "" (CARD_PROVISIONING has no variants).
func (*CardProvisioning) VariantName() string { return "" }

// TokenNotification is the TOKEN_NOTIFICATION event: a digital wallet
// token's status update on a device.
type TokenNotification struct {
	Event      string      `json:"event"`
	AlertType  string      `json:"alert_type,omitempty"` // e.g. TOKEN_STATUS_UPDATE
	UserID     string      `json:"user_id,omitempty"`
	CardID     string      `json:"card_id"`
	TokenInfo  TokenInfo   `json:"token_info"`
	DeviceInfo *DeviceInfo `json:"device_info,omitempty"`
	TokenProvisioning
}

// EventName returns "TOKEN_NOTIFICATION".
func (*TokenNotification) EventName() string { return EventTokenNotification }

// VariantName returns "" (TOKEN_NOTIFICATION has no variants).
func (*TokenNotification) VariantName() string { return "" }

// TokenInfo is the token_info object of TOKEN_NOTIFICATION.
type TokenInfo struct {
	ID               string `json:"id"`
	TokenReferenceID string `json:"token_reference_id,omitempty"`
	OldTokenStatus   string `json:"old_token_status,omitempty"`
	NewTokenStatus   string `json:"new_token_status,omitempty"`
	TokenRequestorID string `json:"token_requestor_id,omitempty"`
	WalletProvider   string `json:"wallet_provider,omitempty"` // e.g. APPLEPAY
}

// DeviceInfo is the device_info object of TOKEN_NOTIFICATION.
type DeviceInfo struct {
	DeviceID     string `json:"device_id,omitempty"`
	DeviceType   string `json:"device_type,omitempty"`
	DeviceName   string `json:"device_name,omitempty"`
	DeviceNumber string `json:"device_number,omitempty"`
}

// SuccessfullyCreated is the SUCCESSFULLY_CREATED event: a card
// (event_type card_created, card_details) or an account (account_created,
// account_details) was created. Parse returns it bare only when event_type
// is neither.
type SuccessfullyCreated struct {
	Event          string          `json:"event"`
	EventType      string          `json:"event_type"`
	UserID         string          `json:"user_id,omitempty"`
	CardDetails    *CreatedCard    `json:"card_details,omitempty"`
	AccountDetails *CreatedAccount `json:"account_details,omitempty"`
}

// EventName returns "SUCCESSFULLY_CREATED".
func (*SuccessfullyCreated) EventName() string { return EventSuccessfullyCreated }

// VariantName returns "": a bare *SuccessfullyCreated has an unrecognised
// event_type.
func (*SuccessfullyCreated) VariantName() string { return "" }

func (s *SuccessfullyCreated) successfullyCreated() *SuccessfullyCreated { return s }

// AsSuccessfullyCreated returns the SuccessfullyCreated inside ev when ev is a
// SUCCESSFULLY_CREATED event of any variant (or of none).
func AsSuccessfullyCreated(ev Event) (*SuccessfullyCreated, bool) {
	if x, ok := ev.(interface{ successfullyCreated() *SuccessfullyCreated }); ok {
		return x.successfullyCreated(), true
	}
	return nil, false
}

// CreatedCard is the card_details object of SUCCESSFULLY_CREATED.
type CreatedCard struct {
	CardID string `json:"card_id"`
	// FirstFourDigits holds six digits in the documented sample ("473212").
	FirstFourDigits string `json:"first_four_digits,omitempty"`
	LastFourDigits  string `json:"last_four_digits,omitempty"`
	NameOnCard      string `json:"name_on_card,omitempty"`
	CardProductID   string `json:"card_product_id,omitempty"` // e.g. CP_04
	CardType        string `json:"card_type,omitempty"`       // e.g. PHYSICAL
	Status          string `json:"status,omitempty"`          // e.g. INACTIVE
	StatusReason    string `json:"status_reason,omitempty"`   // e.g. I2
}

// CreatedAccount is the account_details object of SUCCESSFULLY_CREATED
// (undocumented: modelled on card_details).
type CreatedAccount struct {
	AccountID string `json:"account_id,omitempty"`
	Status    string `json:"status,omitempty"`
}

// SuccessfullyCreatedCard is a SUCCESSFULLY_CREATED with event_type
// card_created.
type SuccessfullyCreatedCard struct{ SuccessfullyCreated }

// VariantName returns "card_created".
func (*SuccessfullyCreatedCard) VariantName() string { return "card_created" }

// SuccessfullyCreatedAccount is a SUCCESSFULLY_CREATED with event_type
// account_created.
type SuccessfullyCreatedAccount struct{ SuccessfullyCreated }

// VariantName returns "account_created".
func (*SuccessfullyCreatedAccount) VariantName() string { return "account_created" }

// CardDelivery holds the members of the two card delivery events, which
// share one shape; CardDeliveryPartnerAssigned and CardDeliveryStatusChanged
// embed it.
type CardDelivery struct {
	Event             string `json:"event"`
	UserID            string `json:"user_id,omitempty"`
	CardID            string `json:"card_id"`
	WaybillNumber     string `json:"waybill_number,omitempty"`
	StatusDescription string `json:"status_description,omitempty"` // e.g. Delivered
	ModifiedDate      string `json:"modified_date,omitempty"`
}

// CardDeliveryPartnerAssigned is the CARD_DELIVERY_PARTNER_ASSIGNED event: a
// delivery partner was assigned to a physical card.
type CardDeliveryPartnerAssigned struct{ CardDelivery }

// EventName returns "CARD_DELIVERY_PARTNER_ASSIGNED".
func (*CardDeliveryPartnerAssigned) EventName() string { return EventCardDeliveryPartnerAssigned }

// VariantName returns "" (CARD_DELIVERY_PARTNER_ASSIGNED has no variants).
func (*CardDeliveryPartnerAssigned) VariantName() string { return "" }

// CardDeliveryStatusChanged is the CARD_DELIVERY_STATUS_CHANGED event: the
// delivery status of a physical card changed.
type CardDeliveryStatusChanged struct{ CardDelivery }

// EventName returns "CARD_DELIVERY_STATUS_CHANGED".
func (*CardDeliveryStatusChanged) EventName() string { return EventCardDeliveryStatusChanged }

// VariantName returns "" (CARD_DELIVERY_STATUS_CHANGED has no variants).
func (*CardDeliveryStatusChanged) VariantName() string { return "" }
