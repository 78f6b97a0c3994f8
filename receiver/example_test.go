package receiver_test

import (
	"errors"
	"fmt"

	"github.com/heraldhq/herald/receiver"
)

func ExampleParse() {
	bodies := []string{
		`{"event": "TRANSACTION", "card_transaction": {"id": "9829a089", "message_type": "AUTHORIZATION",
		  "transaction_type": "PURCHASE", "transaction_amount": 100, "transaction_currency": "AED",
		  "isPreAuth": "Y", "fee_details": [{"fee_id": "Fee1", "amount": 0.5, "currency": "AED"}]}}`,
		`{"event": "TRANSACTION", "card_transaction": {"id": "wqwrhsDfEGGJn", "message_type": "API",
		  "transaction_type": "WALLET_CREDIT", "transaction_amount": 3000, "transaction_currency": "AED",
		  "feeDetail": [{"fee_id": "173427", "amount": "6.0", "currency": "AED"}]}}`,
		`{"event": "KYC_RESULT", "kyc_id": "a0b896ef", "user_id": "0d7f87bf", "status": "PASS", "status_code": "P0"}`,
		`{"id": "b876d568", "type": "AC", "timestamp": "2020-07-20T06:49:02.366Z",
		  "details": {"token": {"activationCode": "303241"}}}`,
		`{"event": "KYC_RESULT", "kyc_id": "b70c8e15", "user_id": "0d7f87bf", "status": "REVIEW"}`,
		`{"event": "CARD_BURNT"}`,
	}
	for _, body := range bodies {
		ev, err := receiver.Parse([]byte(body))
		var unknown *receiver.UnknownEventError
		if errors.As(err, &unknown) {
			fmt.Println("ignoring event", unknown.Name)
			continue
		} else if err != nil {
			fmt.Println("bad request:", err)
			continue
		}
		switch e := ev.(type) {
		case *receiver.TransactionPurchase:
			ct := e.CardTransaction
			fmt.Println("purchase", ct.ID, ct.TransactionAmount, ct.TransactionCurrency, "pre-auth:", ct.IsPreAuth.Bool())
		case *receiver.TransactionWalletCredit:
			for _, fee := range e.Fees() { // fee_details or feeDetail
				f, _ := fee.Amount.Float64()
				fmt.Printf("wallet credit %s fee %s %.2f %s\n", e.CardTransaction.ID, fee.FeeID, f, fee.Currency)
			}
		case *receiver.KYCResultPass:
			fmt.Println("KYC passed:", e.KYCID)
		case *receiver.NITokenNotificationAC:
			fmt.Println("activation code", e.Details.Token.ActivationCode)
		default:
			fmt.Printf("%s %q: %T\n", ev.EventName(), ev.VariantName(), ev)
		}
	}
	// Output:
	// purchase 9829a089 100 AED pre-auth: true
	// wallet credit wqwrhsDfEGGJn fee 173427 6.00 AED
	// KYC passed: a0b896ef
	// activation code 303241
	// KYC_RESULT "": *receiver.KYCResult
	// ignoring event CARD_BURNT
}
