package receiver_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/heraldhq/herald/receiver"
)

// eq fails the test when got != want.
func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// as asserts ev's concrete type.
func as[T receiver.Event](t *testing.T, ev receiver.Event) T {
	t.Helper()
	v, ok := ev.(T)
	if !ok {
		var want T
		t.Fatalf("Parse returned %T, want %T", ev, want)
	}
	return v
}

// amount checks an Amount's text and token kind.
func amount(t *testing.T, what string, a receiver.Amount, text string, quoted bool) {
	t.Helper()
	if a.IsZero() || a.String() != text || a.IsString() != quoted {
		t.Errorf("%s = %q (string token %v, absent %v), want %q (string token %v)", what, a.String(), a.IsString(), a.IsZero(), text, quoted)
	}
}

// sampleChecks gives, for every canonical sample, its expected concrete
// type and a few of its values.
var sampleChecks = map[string]func(t *testing.T, ev receiver.Event){
	"ACCOUNT_STATUS_CHANGE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.AccountStatusChange](t, ev)
		eq(t, "account_id", e.AccountID, "0a8735ca-2c2d-4a5f-bfd3-79b20c60ea14")
		eq(t, "new_status", e.NewStatus, "TERMINATED")
	},
	"CARD_DELIVERY_PARTNER_ASSIGNED.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.CardDeliveryPartnerAssigned](t, ev)
		eq(t, "card_id", e.CardID, "264c6885-1b73-4f50-88df-b00aa215894e")
		eq(t, "waybill_number", e.WaybillNumber, "44262738752")
	},
	"CARD_DELIVERY_STATUS_CHANGED.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.CardDeliveryStatusChanged](t, ev)
		eq(t, "status_description", e.StatusDescription, "Picked Up From Shipper")
		eq(t, "modified_date", e.ModifiedDate, "2025-03-07T15:43:00.000+03:00")
	},
	"CARD_PROVISIONING.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.CardProvisioning](t, ev)
		eq(t, "card_id", e.CardID, "055ef899-9650-4700-9497-e71826dd2822")
		eq(t, "wallet_identifier", e.WalletIdentifier, "APPLEPAY")
		eq(t, "pan_source", e.PANSource, "MOBILE_BANKING_APP")
		if e.NumberOfActiveTokensForPAN == nil || *e.NumberOfActiveTokensForPAN != 0 {
			t.Errorf("number_of_active_tokens_for_pan = %v, want 0", e.NumberOfActiveTokensForPAN)
		}
	},
	"CARD_STATUS_CHANGE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.CardStatusChange](t, ev)
		eq(t, "card_id", e.CardStatusChange.CardID, "eef930c7-6e44-4846-948a-dfd7855484b6")
		eq(t, "new_status", e.CardStatusChange.NewStatus, "SUSPENDED")
		if e.CardStatusChange.Note == nil || e.CardStatusChange.Note.Description != "First time activation" || e.CardStatusChange.Note.Extras == nil {
			t.Errorf("note = %+v, want description and an empty extras", e.CardStatusChange.Note)
		}
	},
	"CHARGE_APPLIED.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.ChargeApplied](t, ev)
		eq(t, "id", e.ChargeApplied.ID, "ide20259037739")
		eq(t, "charge_type", e.ChargeApplied.ChargeType, "PHYSICAL_CARD_ISSUANCE")
		amount(t, "amount", e.ChargeApplied.Amount, "5.00", false)
	},
	"EXPIRED_AUTH.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.ExpiredAuth](t, ev)
		ct := e.CardTransaction
		eq(t, "id", ct.ID, "3b9ac07c-4e5c-4b69-be55-1dee49320d2b")
		eq(t, "auth_expired_by", ct.AuthExpiredBy, "AUTO")
		amount(t, "acquirer_fee_amount", ct.AcquirerFeeAmount, "0.1", false)
		if ct.ReversalCount == nil || *ct.ReversalCount != 1 {
			t.Errorf("reversal_count = %v, want 1", ct.ReversalCount)
		}
	},
	"IDENTITY_VERIFICATION.REASON_CODE_CHANGE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.IdentityVerificationReasonCodeChange](t, ev)
		eq(t, "applicant_id", e.ApplicantID, "8ecac870-bf18-4583-8d8d-fa6bacca3cd5")
		if e.OldStatusReasonCode == nil || *e.OldStatusReasonCode != "I0" || e.SDKToken != nil {
			t.Errorf("old_status_reason_code = %v, sdk_token = %v; want I0 and absent", e.OldStatusReasonCode, e.SDKToken)
		}
		eq(t, "status_reason_code", e.StatusReasonCode, "B0")
	},
	"IDENTITY_VERIFICATION.USER_CREATION.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.IdentityVerificationUserCreation](t, ev)
		eq(t, "user_id", e.UserID, "1ae3f657-5ce0-4fc6-8e56-c6d9e9866bac")
		if e.SDKToken == nil || len(*e.SDKToken) < 100 {
			t.Errorf("sdk_token = %v, want the JWT", e.SDKToken)
		}
	},
	"KYC_RESULT.INCONCLUSIVE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.KYCResultInconclusive](t, ev)
		eq(t, "kyc_id", e.KYCID, "b70c8e15-fde2-420b-ba4b-e0a248231310")
		eq(t, "status_code", e.StatusCode, "C0")
		eq(t, "old_status", e.OldStatus, "SUBMITTED")
	},
	"KYC_RESULT.PASS.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.KYCResultPass](t, ev)
		eq(t, "kyc_id", e.KYCID, "a0b896ef-ba81-43fc-ab23-b3d53359fe30")
		eq(t, "status_code", e.StatusCode, "P0")
	},
	"KYC_RESULT.SUBMITTED.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.KYCResultSubmitted](t, ev)
		eq(t, "kyc_id", e.KYCID, "b70c8e15-fde2-420b-ba4b-e0a248231310")
		eq(t, "kyc_policy", e.KYCPolicy, "UAE_INDIVIDUAL_PRIMARY")
		eq(t, "user_id", e.UserID, "0d7f87bf-0390-40a2-988a-c5cb0187066a")
	},
	"NI_TOKEN_NOTIFICATION.AC.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.NITokenNotificationAC](t, ev)
		eq(t, "id", e.ID, "b876d568-8411-4638-bdef-a1a188a4773b")
		eq(t, "type", e.Type, "AC")
		eq(t, "details.token.activationCode", e.Details.Token.ActivationCode, "303241")
		eq(t, "details.card.id.value", e.Details.Card.ID.Value, "99984100133767425304")
		eq(t, "client id", e.Details.Card.ResolvedClientID(), "112233677339066180")
	},
	"NI_TOKEN_NOTIFICATION.TC.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.NITokenNotificationTC](t, ev)
		eq(t, "details.card.maskedCardNumber", e.Details.Card.MaskedCardNumber, "529135XXXXXX4488")
		eq(t, "details.token.deviceType", e.Details.Token.DeviceType, "16")
		eq(t, "details.token.requestorName", e.Details.Token.RequestorName, "APPLE PAY")
	},
	"NI_TOKEN_NOTIFICATION.TD.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.NITokenNotificationTD](t, ev)
		eq(t, "details.token.tokenEventIndicator", e.Details.Token.TokenEventIndicator, "3")
		eq(t, "timestamp", e.Timestamp, "2022-11-09T11:00:03Z")
	},
	"NI_TOKEN_NOTIFICATION.TE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.NITokenNotificationTE](t, ev)
		eq(t, "details.token.tokenEventIndicator", e.Details.Token.TokenEventIndicator, "7")
		eq(t, "details.card.id.type", e.Details.Card.ID.Type, "externalCardId")
	},
	"PIN_CHANGE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.PINChange](t, ev)
		eq(t, "card_id", e.CardID, "77779999999999999212")
		eq(t, "card_status_reason", e.CardStatusReason, "A0")
	},
	"SUCCESSFULLY_CREATED.account_created.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.SuccessfullyCreatedAccount](t, ev)
		if e.AccountDetails == nil || e.AccountDetails.AccountID != "0a8735ca-2c2d-4a5f-bfd3-79b20c60ea14" || e.CardDetails != nil {
			t.Errorf("account_details = %+v, card_details = %+v", e.AccountDetails, e.CardDetails)
		}
	},
	"SUCCESSFULLY_CREATED.card_created.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.SuccessfullyCreatedCard](t, ev)
		eq(t, "event_type", e.EventType, "card_created")
		if e.CardDetails == nil || e.CardDetails.CardID != "d7c5451f-d381-409e-a9dc-05ea557c3dfd" || e.CardDetails.FirstFourDigits != "473212" {
			t.Errorf("card_details = %+v", e.CardDetails)
		}
	},
	"TOKEN_NOTIFICATION.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TokenNotification](t, ev)
		eq(t, "card_id", e.CardID, "145236599")
		eq(t, "token_info.id", e.TokenInfo.ID, "124563289")
		eq(t, "token_info.wallet_provider", e.TokenInfo.WalletProvider, "APPLEPAY")
		if e.DeviceInfo == nil || e.DeviceInfo.DeviceName != "apple" {
			t.Errorf("device_info = %+v", e.DeviceInfo)
		}
		eq(t, "client_wallet_account_id", e.ClientWalletAccountID, "933F30AC6A9A9631")
	},
	"TRANSACTION.BALANCE_INQUIRY.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionBalanceInquiry](t, ev)
		ct := e.CardTransaction
		eq(t, "id", ct.ID, "bb5b17d3-31f7-43ff-9fe7-bcf4dd78f5f0")
		amount(t, "transaction_amount", ct.TransactionAmount, "0", false)
		eq(t, "acquirer country", ct.ResolvedAcquirerCountry(), "USA")
		if ct.FeeDetails == nil || len(ct.FeeDetails) != 0 {
			t.Errorf("fee_details = %#v, want present and empty", ct.FeeDetails)
		}
	},
	"TRANSACTION.CASH_WITHDRAWAL.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionCashWithdrawal](t, ev)
		ct := e.CardTransaction
		eq(t, "id", ct.ID, "5f0c2b7e-3d4a-4e61-9b8f-2a6d1c9e7b40")
		amount(t, "transaction_amount", ct.TransactionAmount, "200", false)
		if ct.PINPresent == nil || !*ct.PINPresent {
			t.Errorf("pin_present = %v, want true", ct.PINPresent)
		}
		eq(t, "fees", len(e.Fees()), 1)
	},
	"TRANSACTION.PURCHASE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionPurchase](t, ev)
		ct := e.CardTransaction
		eq(t, "id", ct.ID, "9829a089-1804-40b6-9920-d31bacc07f17")
		amount(t, "transaction_amount", ct.TransactionAmount, "100", false)
		amount(t, "fee_amount", ct.FeeAmount, "1.5", false)
		eq(t, "isPreAuth", ct.IsPreAuth.Bool(), true)
		eq(t, "isCancelled", ct.IsCancelled.Bool(), true)
		eq(t, "original_amount_billing is null", ct.OriginalAmountBilling.IsNull(), true)
		if len(ct.SweepDetails) != 1 || ct.SweepDetails[0].MarkupDetails == nil || ct.SweepDetails[0].MarkupDetails.Category != "INTERNAL" {
			t.Errorf("sweep_details = %+v", ct.SweepDetails)
		} else {
			amount(t, "sweep exchange_rate", ct.SweepDetails[0].ExchangeRate, "3.6153", true)
			amount(t, "sweep debit_from_amount", ct.SweepDetails[0].DebitFromAmount, "10.00", false)
		}
		if ct.TokenDetails == nil || ct.TokenDetails.DeviceDetails == nil || ct.TokenDetails.DeviceDetails.DeviceType != "MOBILE_PHONE" {
			t.Errorf("token_details = %+v", ct.TokenDetails)
		}
		eq(t, "acquirer country", ct.ResolvedAcquirerCountry(), "USA")
	},
	"TRANSACTION.REFUND.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionRefund](t, ev)
		eq(t, "id", e.CardTransaction.ID, "c41e8a52-7b0d-4f3a-8e29-6d5b1f0a9c37")
		amount(t, "fee_amount", e.CardTransaction.FeeAmount, "0", false)
	},
	"TRANSACTION.REVERSAL.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionReversal](t, ev)
		eq(t, "id", e.CardTransaction.ID, "e7d3f019-52a8-4c6b-a1f4-3b8e90d2c655")
		if e.CardTransaction.ReversalCount == nil || *e.CardTransaction.ReversalCount != 1 {
			t.Errorf("reversal_count = %v, want 1", e.CardTransaction.ReversalCount)
		}
	},
	"TRANSACTION.WALLET_CREDIT.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionWalletCredit](t, ev)
		ct := e.CardTransaction
		eq(t, "load_id", ct.LoadID, "wqwrhsDfEGGJn")
		amount(t, "transaction_amount", ct.TransactionAmount, "3000", false)
		fees := e.Fees()
		if len(fees) != 1 {
			t.Fatalf("fees = %+v, want one", fees)
		}
		amount(t, "fee amount", fees[0].Amount, "6.0", true)
		if len(ct.AccountDetails) != 1 || len(ct.AccountDetails[0].Balances) != 2 {
			t.Fatalf("account_details = %+v", ct.AccountDetails)
		}
		amount(t, "ledger_balance", ct.AccountDetails[0].Balances[0].LedgerBalance, "2000.00", false)
	},
	"TRANSACTION.WALLET_DEBIT.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionWalletDebit](t, ev)
		eq(t, "unload_id", e.CardTransaction.UnloadID, "testeTsRRdgfyR")
		amount(t, "transaction_amount", e.CardTransaction.TransactionAmount, "50", false)
	},
	"TRANSACTION.WALLET_TRANSFER.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.TransactionWalletTransfer](t, ev)
		ct := e.CardTransaction
		eq(t, "transfer_id", ct.TransferID, "b90e1563-7438-42b7-a997-9b871ad64ffb")
		eq(t, "account_id2", ct.AccountID2, "77779999999999999211")
		eq(t, "receiver_user_id", ct.ReceiverUserID, "0dcbdc26-41cb-48b1-bdb8-b9e3db9ff40c")
	},
	"USER_CREATED.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.UserCreated](t, ev)
		eq(t, "user_id", e.UserID, "ea27ae20-82a6-4940-a361-bc52c3147d7f")
		eq(t, "user_type", e.UserType, "BUSINESS")
	},
	"USER_DOCUMENT_ALERT.DOCUMENT_EXPIRED.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.UserDocumentAlertExpired](t, ev)
		eq(t, "identification_id", e.IdentificationID, "23747e45-86f5-4973-87d6-7aa62e5f9071")
		eq(t, "grace_period_end_date", e.GracePeriodEndDate, "2022-11-05")
	},
	"USER_DOCUMENT_ALERT.DOCUMENT_NEAR_EXPIRY.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.UserDocumentAlertNearExpiry](t, ev)
		eq(t, "identification_id", e.IdentificationID, "81e1f962-df62-4bdf-badd-51827074ad4d")
		eq(t, "expiration_date", e.ExpirationDate, "2022-09-28")
	},
	"USER_STATUS_CHANGE.json": func(t *testing.T, ev receiver.Event) {
		e := as[*receiver.UserStatusChange](t, ev)
		eq(t, "user_id", e.UserID, "0d7f87bf-0390-40a2-988a-c5cb0187066a")
		eq(t, "old_status_reason_code", e.OldStatusReasonCode, "I0")
		eq(t, "new_status", e.NewStatus, "ACTIVE")
	},
}

// TestCanonicalSamples parses every canonical sample into its concrete type.
func TestCanonicalSamples(t *testing.T) {
	samples := canonicalSamples(t)
	if len(samples) != len(sampleChecks) {
		t.Errorf("%d canonical samples, %d checks: every sample needs one", len(samples), len(sampleChecks))
	}
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			check, ok := sampleChecks[s.name]
			if !ok {
				t.Fatal("no check for this sample")
			}
			ev := mustParse(t, s.body)
			event, variant := sampleName(s.name)
			eq(t, "EventName", ev.EventName(), event)
			eq(t, "VariantName", ev.VariantName(), variant)
			check(t, ev)
		})
	}
}

// TestCanonicalSamplesCoverCatalogue checks that the canonical samples are
// exactly one per event (without variants) or per variant of the catalogue,
// so that TestCanonicalSamples covers every concrete type.
func TestCanonicalSamplesCoverCatalogue(t *testing.T) {
	want := map[string]bool{}
	for _, ty := range newCatalog(t).Types() {
		if len(ty.Variants) == 0 {
			want[ty.Name+".json"] = true
		}
		for _, v := range ty.Variants {
			want[ty.Name+"."+v.Name+".json"] = true
		}
	}
	got := map[string]bool{}
	for _, s := range canonicalSamples(t) {
		got[s.name] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("canonical samples %v, want %v", got, want)
	}
	types := map[string]bool{}
	for _, s := range canonicalSamples(t) {
		types[fmt.Sprintf("%T", mustParse(t, s.body))] = true
	}
	if len(types) != len(want) {
		t.Errorf("%d distinct concrete types for %d samples: %v", len(types), len(want), types)
	}
}
