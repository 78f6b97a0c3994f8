package receiver

// KYCResult is the KYC_RESULT event: the user's KYC request reached a new
// status. Parse returns it bare only when status is not one of the known
// variants (SUBMITTED, INCONCLUSIVE, PASS).
type KYCResult struct {
	Event      string `json:"event"`
	KYCPolicy  string `json:"kyc_policy,omitempty"` // e.g. UAE_INDIVIDUAL_PRIMARY
	KYCID      string `json:"kyc_id"`
	UserID     string `json:"user_id"`
	Note       string `json:"note,omitempty"`
	OldStatus  string `json:"old_status,omitempty"`
	Status     string `json:"status,omitempty"`      // SUBMITTED, INCONCLUSIVE, PASS
	StatusCode string `json:"status_code,omitempty"` // S0, C0, P0
	Created    string `json:"created,omitempty"`
	Modified   string `json:"modified,omitempty"`
}

// EventName returns "KYC_RESULT".
func (*KYCResult) EventName() string { return EventKYCResult }

// VariantName returns "": a bare *KYCResult has an unrecognised status.
func (*KYCResult) VariantName() string { return "" }

func (k *KYCResult) kycResult() *KYCResult { return k }

// AsKYCResult returns the KYCResult inside ev when ev is a KYC_RESULT event of
// any variant (or of none).
func AsKYCResult(ev Event) (*KYCResult, bool) {
	if x, ok := ev.(interface{ kycResult() *KYCResult }); ok {
		return x.kycResult(), true
	}
	return nil, false
}

// KYCResultSubmitted is a KYC_RESULT with status SUBMITTED (status_code S0).
type KYCResultSubmitted struct{ KYCResult }

// VariantName returns "SUBMITTED".
func (*KYCResultSubmitted) VariantName() string { return "SUBMITTED" }

// KYCResultInconclusive is a KYC_RESULT with status INCONCLUSIVE (status_code
// C0).
type KYCResultInconclusive struct{ KYCResult }

// VariantName returns "INCONCLUSIVE".
func (*KYCResultInconclusive) VariantName() string { return "INCONCLUSIVE" }

// KYCResultPass is a KYC_RESULT with status PASS (status_code P0).
type KYCResultPass struct{ KYCResult }

// VariantName returns "PASS".
func (*KYCResultPass) VariantName() string { return "PASS" }

// UserCreated is the USER_CREATED event.
type UserCreated struct {
	Event               string `json:"event"`
	UserID              string `json:"user_id"`
	NewStatus           string `json:"new_status,omitempty"`             // e.g. PENDINGKYB
	NewStatusReasonCode string `json:"new_status_reason_code,omitempty"` // e.g. I0
	UserType            string `json:"user_type,omitempty"`              // INDIVIDUAL, BUSINESS
	Created             string `json:"created,omitempty"`
}

// EventName returns "USER_CREATED".
func (*UserCreated) EventName() string { return EventUserCreated }

// VariantName returns "" (USER_CREATED has no variants).
func (*UserCreated) VariantName() string { return "" }

// UserStatusChange is the USER_STATUS_CHANGE event.
type UserStatusChange struct {
	Event               string `json:"event"`
	UserID              string `json:"user_id"`
	OldStatus           string `json:"old_status,omitempty"`
	OldStatusReasonCode string `json:"old_status_reason_code,omitempty"`
	NewStatus           string `json:"new_status,omitempty"`
	NewStatusReasonCode string `json:"new_status_reason_code,omitempty"`
	UserType            string `json:"user_type,omitempty"`
	Created             string `json:"created,omitempty"`
}

// EventName returns "USER_STATUS_CHANGE".
func (*UserStatusChange) EventName() string { return EventUserStatusChange }

// VariantName returns "" (USER_STATUS_CHANGE has no variants).
func (*UserStatusChange) VariantName() string { return "" }

// UserDocumentAlert is the USER_DOCUMENT_ALERT event, about a user's
// identification document. Parse returns it bare only when alert_type is not
// one of the known variants.
type UserDocumentAlert struct {
	Event              string `json:"event"`
	AlertType          string `json:"alert_type,omitempty"` // DOCUMENT_NEAR_EXPIRY, DOCUMENT_EXPIRED
	UserID             string `json:"user_id"`
	IdentificationID   string `json:"identification_id"`
	Type               string `json:"type,omitempty"` // e.g. NATIONAL_ID
	Number             string `json:"number,omitempty"`
	IssuanceAuthority  string `json:"issuance_authority,omitempty"`
	PlaceOfIssuance    string `json:"place_of_issuance,omitempty"`
	ExpirationDate     string `json:"expiration_date,omitempty"` // YYYY-MM-DD
	IssuanceDate       string `json:"issuance_date,omitempty"`
	GracePeriodEndDate string `json:"grace_period_end_date,omitempty"` // DOCUMENT_EXPIRED
}

// EventName returns "USER_DOCUMENT_ALERT".
func (*UserDocumentAlert) EventName() string { return EventUserDocumentAlert }

// VariantName returns "": a bare *UserDocumentAlert has an unrecognised
// alert_type.
func (*UserDocumentAlert) VariantName() string { return "" }

func (u *UserDocumentAlert) userDocumentAlert() *UserDocumentAlert { return u }

// AsUserDocumentAlert returns the UserDocumentAlert inside ev when ev is a
// USER_DOCUMENT_ALERT event of any variant (or of none).
func AsUserDocumentAlert(ev Event) (*UserDocumentAlert, bool) {
	if x, ok := ev.(interface{ userDocumentAlert() *UserDocumentAlert }); ok {
		return x.userDocumentAlert(), true
	}
	return nil, false
}

// UserDocumentAlertNearExpiry is a USER_DOCUMENT_ALERT with alert_type
// DOCUMENT_NEAR_EXPIRY.
type UserDocumentAlertNearExpiry struct{ UserDocumentAlert }

// VariantName returns "DOCUMENT_NEAR_EXPIRY".
func (*UserDocumentAlertNearExpiry) VariantName() string { return "DOCUMENT_NEAR_EXPIRY" }

// UserDocumentAlertExpired is a USER_DOCUMENT_ALERT with alert_type
// DOCUMENT_EXPIRED (it adds grace_period_end_date).
type UserDocumentAlertExpired struct{ UserDocumentAlert }

// VariantName returns "DOCUMENT_EXPIRED".
func (*UserDocumentAlertExpired) VariantName() string { return "DOCUMENT_EXPIRED" }

// IdentityVerification is the IDENTITY_VERIFICATION event. Its two variants
// are told apart by which member is present, not by a value: sdk_token
// (USER_CREATION) or old_status_reason_code (REASON_CODE_CHANGE). Those two
// members are therefore pointers (nil when absent), so that a present but
// empty one survives a Marshal and the variant with it.
type IdentityVerification struct {
	Event               string  `json:"event"`
	UserID              string  `json:"user_id"`
	ApplicantID         string  `json:"applicant_id"`
	SDKToken            *string `json:"sdk_token,omitempty"`
	Status              string  `json:"status,omitempty"` // e.g. PENDINGIDVERIFICATION
	OldStatusReasonCode *string `json:"old_status_reason_code,omitempty"`
	StatusReasonCode    string  `json:"status_reason_code,omitempty"`
}

// EventName returns "IDENTITY_VERIFICATION".
func (*IdentityVerification) EventName() string { return EventIdentityVerification }

// VariantName returns "": a bare *IdentityVerification has neither sdk_token
// nor old_status_reason_code.
func (*IdentityVerification) VariantName() string { return "" }

func (v *IdentityVerification) identityVerification() *IdentityVerification { return v }

// AsIdentityVerification returns the IdentityVerification inside ev when ev is
// an IDENTITY_VERIFICATION event of any variant (or of none).
func AsIdentityVerification(ev Event) (*IdentityVerification, bool) {
	if x, ok := ev.(interface{ identityVerification() *IdentityVerification }); ok {
		return x.identityVerification(), true
	}
	return nil, false
}

// IdentityVerificationUserCreation is an IDENTITY_VERIFICATION received upon
// user creation: it carries sdk_token (SDKToken is not nil). When a payload
// carries both sdk_token and old_status_reason_code it is this variant, as
// in the catalogue, whose rules are tried in order.
type IdentityVerificationUserCreation struct{ IdentityVerification }

// VariantName returns "USER_CREATION".
func (*IdentityVerificationUserCreation) VariantName() string { return "USER_CREATION" }

// IdentityVerificationReasonCodeChange is an IDENTITY_VERIFICATION received
// upon a change of the user's status reason code: it carries
// old_status_reason_code (OldStatusReasonCode is not nil) and the new
// status_reason_code.
type IdentityVerificationReasonCodeChange struct{ IdentityVerification }

// VariantName returns "REASON_CODE_CHANGE".
func (*IdentityVerificationReasonCodeChange) VariantName() string { return "REASON_CODE_CHANGE" }
