package receiver

// NITokenNotification is the NI_TOKEN_NOTIFICATION event: a Network
// International token notification, which comes as the NI envelope itself
// ({"id", "type", "timestamp", "details"}, no "event" member). Parse returns
// one of the NITokenNotification* variant types, chosen by Type; this base
// type is returned only for a type it does not know, which cannot happen
// through Parse today (an unknown envelope type is an *UnknownEventError).
type NITokenNotification struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`      // AC, TC, TD or TE
	Timestamp string    `json:"timestamp"` // no fixed format
	Details   NIDetails `json:"details"`
}

// EventName returns "NI_TOKEN_NOTIFICATION".
func (*NITokenNotification) EventName() string { return EventNITokenNotification }

// VariantName returns "" for a bare *NITokenNotification.
func (*NITokenNotification) VariantName() string { return "" }

func (n *NITokenNotification) niTokenNotification() *NITokenNotification { return n }

// AsNITokenNotification returns the NITokenNotification inside ev when ev is
// an NI_TOKEN_NOTIFICATION of any type.
func AsNITokenNotification(ev Event) (*NITokenNotification, bool) {
	if x, ok := ev.(interface{ niTokenNotification() *NITokenNotification }); ok {
		return x.niTokenNotification(), true
	}
	return nil, false
}

// NIDetails is the details object of an NI token notification.
type NIDetails struct {
	Card *NICard `json:"card,omitempty"`
	// TextMessage is the SMS text; every sample puts it here, the NI tables
	// list it among the card members (NICard.TextMessage).
	// ResolvedTextMessage reads either.
	TextMessage string   `json:"textMessage,omitempty"`
	Token       *NIToken `json:"token,omitempty"`
}

// ResolvedTextMessage returns details.textMessage, or else
// details.card.textMessage, or "".
func (d *NIDetails) ResolvedTextMessage() string {
	if d.TextMessage != "" || d.Card == nil {
		return d.TextMessage
	}
	return d.Card.TextMessage
}

// NICard is the card object of an NI token notification.
type NICard struct {
	ID               *NICardID `json:"id,omitempty"`
	MaskedCardNumber string    `json:"maskedCardNumber,omitempty"` // 999841XXXXXX7408
	// ClientID is clientId, the documented name; ClintID is clintId, the
	// misspelling every v1 sample uses. ResolvedClientID reads either.
	ClientID    string `json:"clientId,omitempty"`
	ClintID     string `json:"clintId,omitempty"`
	MobilePhone string `json:"mobilePhone,omitempty"`
	Email       string `json:"email,omitempty"`
	Language    string `json:"language,omitempty"` // e.g. ENG
	CBSNumber   string `json:"cbsNumber,omitempty"`
	TextMessage string `json:"textMessage,omitempty"`
}

// ResolvedClientID returns clientId, or else clintId, or "".
func (c *NICard) ResolvedClientID() string {
	if c.ClientID != "" {
		return c.ClientID
	}
	return c.ClintID
}

// NICardID is the id object of an NICard.
type NICardID struct {
	Value string `json:"value,omitempty"`
	Type  string `json:"type,omitempty"` // externalCardId or cardNumber
}

// NIToken is the token object of an NI token notification. Which members are
// present depends on the notification type (see the variant types).
type NIToken struct {
	ActivationPref       string `json:"activationPref,omitempty"` // AC
	RequestorID          string `json:"requestorId,omitempty"`
	RequestorName        string `json:"requestorName,omitempty"`  // e.g. APPLE PAY
	ActivationCode       string `json:"activationCode,omitempty"` // AC: the OTP
	DeviceType           string `json:"deviceType,omitempty"`     // TC, TD, TE
	TokenEventReasonCode string `json:"tokenEventReasonCode,omitempty"`
	// TokenEventIndicator is 3 (inactive/deactivated), 4 (soft deleted), 6
	// (suspended) or 7 (active/resume); TD and TE.
	TokenEventIndicator string `json:"tokenEventIndicator,omitempty"`
}

// NITokenNotificationAC is an NI token notification of type AC (activation):
// details.token carries the OTP (ActivationCode) and ActivationPref.
type NITokenNotificationAC struct{ NITokenNotification }

// VariantName returns "AC".
func (*NITokenNotificationAC) VariantName() string { return "AC" }

// NITokenNotificationTC is an NI token notification of type TC (completion).
type NITokenNotificationTC struct{ NITokenNotification }

// VariantName returns "TC".
func (*NITokenNotificationTC) VariantName() string { return "TC" }

// NITokenNotificationTD is an NI token notification of type TD (token
// events): TokenEventIndicator and TokenEventReasonCode tell the event.
type NITokenNotificationTD struct{ NITokenNotification }

// VariantName returns "TD".
func (*NITokenNotificationTD) VariantName() string { return "TD" }

// NITokenNotificationTE is an NI token notification of type TE (token
// resume).
type NITokenNotificationTE struct{ NITokenNotification }

// VariantName returns "TE".
func (*NITokenNotificationTE) VariantName() string { return "TE" }
