// Package receiver parses the notifications Herald delivers into typed Go
// values, one type per event and variant of Herald's event catalogue. It has
// no dependency on the rest of Herald: a receiver imports it alone (with
// package signature to verify the request first).
//
// # Types
//
// Every event has a base struct named after it (Transaction, KYCResult,
// CardStatusChange, NITokenNotification, ...) whose fields are the members of
// the event's JSON Schema, with their JSON names as tags; nested objects are
// structs of their own, and shapes that several events share are defined
// once (CardTransaction for TRANSACTION and EXPIRED_AUTH, Fee for both
// fee_details and feeDetail, TokenProvisioning, CardDelivery).
//
// An event with variants also has one named type per variant, which embeds
// the base struct and adds nothing but its VariantName:
//
//	type TransactionPurchase struct{ Transaction }
//
// so p.CardTransaction.ID reads the same on a *TransactionPurchase as on a
// *Transaction, and marshalling either gives the same JSON. Parse returns a
// pointer to the variant type when the catalogue's variant rules recognise
// one, and a pointer to the base type otherwise (VariantName ""). The
// AsTransaction, AsKYCResult, AsUserDocumentAlert, AsIdentityVerification,
// AsSuccessfullyCreated and AsNITokenNotification functions return the base
// struct of any variant, for code common to all of them.
//
// Concrete types, by event (variant types after the colon):
//
//	CARD_STATUS_CHANGE              CardStatusChange
//	TRANSACTION                     Transaction: TransactionPurchase,
//	                                TransactionCashWithdrawal,
//	                                TransactionBalanceInquiry, TransactionRefund,
//	                                TransactionReversal, TransactionWalletCredit,
//	                                TransactionWalletDebit, TransactionWalletTransfer
//	KYC_RESULT                      KYCResult: KYCResultSubmitted,
//	                                KYCResultInconclusive, KYCResultPass
//	USER_CREATED                    UserCreated
//	USER_STATUS_CHANGE              UserStatusChange
//	USER_DOCUMENT_ALERT             UserDocumentAlert: UserDocumentAlertNearExpiry,
//	                                UserDocumentAlertExpired
//	IDENTITY_VERIFICATION           IdentityVerification:
//	                                IdentityVerificationUserCreation,
//	                                IdentityVerificationReasonCodeChange
//	PIN_CHANGE                      PINChange
//	EXPIRED_AUTH                    ExpiredAuth
//	CHARGE_APPLIED                  ChargeApplied
//	ACCOUNT_STATUS_CHANGE           AccountStatusChange
//	CARD_PROVISIONING               CardProvisioning
//	TOKEN_NOTIFICATION              TokenNotification
//	SUCCESSFULLY_CREATED            SuccessfullyCreated: SuccessfullyCreatedCard,
//	                                SuccessfullyCreatedAccount
//	CARD_DELIVERY_PARTNER_ASSIGNED  CardDeliveryPartnerAssigned
//	CARD_DELIVERY_STATUS_CHANGED    CardDeliveryStatusChanged
//	NI_TOKEN_NOTIFICATION           NITokenNotification: NITokenNotificationAC,
//	                                NITokenNotificationTC, NITokenNotificationTD,
//	                                NITokenNotificationTE
//
// Herald's test request (POST /webhooks/{id}:ping) parses as *Ping.
//
// Every concrete type implements Event with pointer receivers, so only
// pointers are Events and a type switch on Parse's result names pointer
// types (a case without the * does not compile).
//
// # Tolerance
//
// The platform's documents spell some members in more than one way, and
// Herald accepts them all; so does this package:
//
//   - Amounts (transaction_amount, fee amounts, balances, rates, ...) are of
//     type Amount, which reads a JSON number or a JSON string ("6.0"), keeps
//     the exact decimal text (String, Float64), and marshals back to the
//     token kind it was read from. original_amount_billing may also be JSON
//     null or the string "null" (Amount.IsNull).
//   - isPreAuth and isCancelled are of type Flag, which reads true/false or
//     "Y"/"YES"/"N"/"NO" (Flag.Bool) and marshals back to the token read.
//   - Fees come as fee_details or, in older samples, feeDetail: both fields
//     are kept, and CardTransaction.Fees returns whichever is present.
//   - acquirerCountry appears at card_transaction level or inside
//     token_details: both fields are kept, and
//     CardTransaction.ResolvedAcquirerCountry reads either. Likewise
//     NICard.ResolvedClientID (clientId or the misspelt clintId) and
//     NIDetails.ResolvedTextMessage.
//
// # Marshalling
//
// json.Marshal of a parsed event gives JSON that is valid against the
// event's schema and matches the same variant. Absent members stay absent:
// optional nested objects and booleans and integers are pointers (nil when
// absent; false and 0 are kept), Amount and Flag fields and slices use
// omitzero (an empty fee_details [] stays []), and optional strings use
// omitempty, so an optional string member that is present but empty is
// dropped: these types do not tell "" from absent, except for the two
// members whose presence selects a variant (IdentityVerification.SDKToken
// and OldStatusReasonCode, which are *string). Members the schemas do not
// know are not kept.
//
// The event name is a field like the others (Event, json "event"; for NI,
// Type): Parse fills it from the body, and code that builds an event to
// marshal sets it.
//
// # NI envelopes
//
// A webhook in NI format receives NI token notifications as their envelope
// ({"id", "type", "timestamp", "details"}), which Parse reads as
// NI_TOKEN_NOTIFICATION, and every other event wrapped in that envelope
// (type = event name, details = payload): Parse unwraps it and returns the
// event in details.
package receiver
