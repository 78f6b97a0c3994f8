package receiver

// CardTransaction is the card_transaction object of TRANSACTION and
// EXPIRED_AUTH. Which members are present depends on the transaction type:
// card authorizations carry the network, card and merchant members; API
// wallet operations (WALLET_CREDIT, WALLET_DEBIT, WALLET_TRANSFER) carry
// account_id1/card_product1 (and account_id2/card_product2 for a transfer).
type CardTransaction struct {
	ID                     string `json:"id"`
	TransactionTimestamp   string `json:"transaction_timestamp,omitempty"` // e.g. 2022-09-23T12:13:01.295Z
	Network                string `json:"network,omitempty"`               // e.g. VISA
	MessageType            string `json:"message_type,omitempty"`          // AUTHORIZATION or API
	TransactionType        string `json:"transaction_type,omitempty"`      // PURCHASE, ..., WALLET_TRANSFER
	TransferType           string `json:"transfer_type,omitempty"`         // e.g. CHA2CHAOWN
	TransactionDescription string `json:"transaction_description,omitempty"`
	TransmissionDateTime   string `json:"transmission_date_time,omitempty"`
	DateTimeAcquirer       string `json:"date_time_acquirer,omitempty"`
	CardID                 string `json:"card_id,omitempty"`
	CardFirst6Digits       string `json:"card_first6_digits,omitempty"`
	CardLast4Digits        string `json:"card_last4_digits,omitempty"`
	CardExpiryDate         string `json:"card_expiry_date,omitempty"` // MMYYYY
	UserID                 string `json:"user_id,omitempty"`
	SenderUserID           string `json:"sender_user_id,omitempty"`   // WALLET_TRANSFER
	ReceiverUserID         string `json:"receiver_user_id,omitempty"` // WALLET_TRANSFER
	AccountID1             string `json:"account_id1,omitempty"`      // API wallet operations
	CardProduct1           string `json:"card_product1,omitempty"`
	AccountID2             string `json:"account_id2,omitempty"` // WALLET_TRANSFER
	CardProduct2           string `json:"card_product2,omitempty"`
	AcquirerID             string `json:"acquirer_id,omitempty"`
	MerchantID             string `json:"merchant_id,omitempty"`
	MCC                    string `json:"mcc,omitempty"` // merchant category code, "7386"
	MerchantName           string `json:"merchant_name,omitempty"`
	MerchantCity           string `json:"merchant_city,omitempty"`
	MerchantCountry        string `json:"merchant_country,omitempty"`
	// AcquirerCountry is acquirerCountry at card_transaction level (the
	// BALANCE_INQUIRY sample); the PURCHASE sample has it in TokenDetails.
	// ResolvedAcquirerCountry reads either.
	AcquirerCountry      string `json:"acquirerCountry,omitempty"`
	TerminalID           string `json:"terminal_id,omitempty"`
	STAN                 string `json:"stan,omitempty"`
	RRN                  string `json:"rrn,omitempty"`
	AuthIDResponse       string `json:"auth_id_response,omitempty"`
	NetworkTransactionID string `json:"network_transaction_id,omitempty"`

	TransactionAmount            Amount `json:"transaction_amount,omitzero"`
	TransactionCurrency          string `json:"transaction_currency,omitempty"`
	BillingAmount                Amount `json:"billing_amount,omitzero"`
	BillingCurrency              string `json:"billing_currency,omitempty"`
	BillingAmountAccount         Amount `json:"billing_amount_account,omitzero"`
	BillingCurrencyAccount       string `json:"billing_currency_account,omitempty"`
	ConversionRateBillingAccount Amount `json:"conversion_rate_billing_account,omitzero"`
	// OriginalAmountBilling is usually the string "null" (Amount.IsNull).
	OriginalAmountBilling Amount `json:"original_amount_billing,omitzero"`
	AcquirerFeeAmount     Amount `json:"acquirer_fee_amount,omitzero"`
	FeeAmount             Amount `json:"fee_amount,omitzero"`
	// FeeDetails is fee_details, the documented name; FeeDetail is feeDetail,
	// the older spelling. Both are kept as read; Fees returns whichever is
	// present.
	FeeDetails []Fee `json:"fee_details,omitzero"`
	FeeDetail  []Fee `json:"feeDetail,omitzero"`

	StatusCode             string `json:"status_code,omitempty"` // "0000"
	StatusDescription      string `json:"status_description,omitempty"`
	CardEntry              string `json:"card_entry,omitempty"`
	POSEnvironment         string `json:"pos_environment,omitempty"`
	Fallback               *bool  `json:"fallback,omitempty"`
	PINPresent             *bool  `json:"pin_present,omitempty"`
	MOTO                   *bool  `json:"moto,omitempty"`
	Recurring              *bool  `json:"recurring,omitempty"`
	InstallmentTransaction *bool  `json:"installment_transaction,omitempty"`
	ReversalCount          *int   `json:"reversal_count,omitempty"`
	ClearingCount          *int   `json:"clearing_count,omitempty"`
	AuthExpiredAt          string `json:"auth_expired_at,omitempty"`
	AuthExpiredBy          string `json:"auth_expired_by,omitempty"` // e.g. AUTO
	SourceChannel          string `json:"source_channel,omitempty"`  // e.g. OPEN_BANKING
	StipReasonCode         string `json:"stip_reason_code,omitempty"`

	SweepDetails           []Sweep       `json:"sweep_details,omitzero"`
	Notes                  string        `json:"notes,omitempty"`
	Type                   string        `json:"type,omitempty"` // e.g. HOLD
	IncrementalTransaction *bool         `json:"incrementalTransaction,omitempty"`
	IsPreAuth              Flag          `json:"isPreAuth,omitzero"`   // "Y"
	IsCancelled            Flag          `json:"isCancelled,omitzero"` // "YES"
	TokenDetails           *TokenDetails `json:"token_details,omitempty"`

	LoadID         string               `json:"load_id,omitempty"`     // WALLET_CREDIT
	UnloadID       string               `json:"unload_id,omitempty"`   // WALLET_DEBIT
	TransferID     string               `json:"transfer_id,omitempty"` // WALLET_TRANSFER
	AccountDetails []TransactionAccount `json:"account_details,omitzero"`
}

// Fees returns the fees of the transaction from whichever member carries
// them: fee_details when it is present and not empty, otherwise feeDetail
// when present, otherwise fee_details (nil when neither is present).
func (ct *CardTransaction) Fees() []Fee {
	if len(ct.FeeDetails) > 0 || ct.FeeDetail == nil {
		return ct.FeeDetails
	}
	return ct.FeeDetail
}

// ResolvedAcquirerCountry returns acquirerCountry from card_transaction, or
// else from token_details, or "".
func (ct *CardTransaction) ResolvedAcquirerCountry() string {
	if ct.AcquirerCountry != "" {
		return ct.AcquirerCountry
	}
	if ct.TokenDetails != nil {
		return ct.TokenDetails.AcquirerCountry
	}
	return ""
}

// Fee is one element of fee_details (or feeDetail): a fee applied to the
// transaction.
type Fee struct {
	FeeID       string `json:"fee_id,omitempty"`      // "Fee1", "173427"
	Description string `json:"description,omitempty"` // "PURCHASE FEE"
	Amount      Amount `json:"amount,omitzero"`       // 0.5 or "6.0"
	Currency    string `json:"currency,omitempty"`
	IsAdvanced  *bool  `json:"is_advanced,omitempty"`
}

// Sweep is one element of sweep_details: a currency sweep (a debit in one
// currency, a credit in another) made for the transaction.
type Sweep struct {
	DebitFromCurrency string  `json:"debit_from_currency,omitempty"`
	DebitFromAmount   Amount  `json:"debit_from_amount,omitzero"`
	CreditToCurrency  string  `json:"credit_to_currency,omitempty"`
	CreditToAmount    Amount  `json:"credit_to_amount,omitzero"`
	ExchangeRate      Amount  `json:"exchange_rate,omitzero"` // shown as "3.6153"
	MarkupPercentage  Amount  `json:"markup_percentage,omitzero"`
	MarkupAmount      Amount  `json:"markup_amount,omitzero"`
	MarkupDetails     *Markup `json:"markup_details,omitempty"`
}

// Markup is the markup_details object of a Sweep.
type Markup struct {
	Category   string `json:"category,omitempty"` // e.g. INTERNAL
	Percentage Amount `json:"percentage,omitzero"`
	Amount     Amount `json:"amount,omitzero"`
	Currency   string `json:"currency,omitempty"`
}

// TokenDetails is the token_details object: the digital wallet token used
// for the transaction.
type TokenDetails struct {
	WalletIdentifier string `json:"wallet_identifier,omitempty"` // e.g. APPLEPAY
	TokenNumber      string `json:"token_number,omitempty"`
	TokenType        string `json:"token_type,omitempty"` // e.g. "01"
	// AcquirerCountry is acquirerCountry as the PURCHASE sample places it;
	// see CardTransaction.ResolvedAcquirerCountry.
	AcquirerCountry string         `json:"acquirerCountry,omitempty"`
	DeviceDetails   *DeviceDetails `json:"device_details,omitempty"`
}

// DeviceDetails is the device_details object of TokenDetails.
type DeviceDetails struct {
	DeviceType string `json:"device_type,omitempty"` // e.g. MOBILE_PHONE
}

// TransactionAccount is one element of account_details: an account touched
// by a wallet operation, with its balances after it.
type TransactionAccount struct {
	ID       string           `json:"id,omitempty"`
	Balances []AccountBalance `json:"balances,omitzero"`
}

// AccountBalance is one balance of a TransactionAccount, in one currency.
type AccountBalance struct {
	Currency         string `json:"currency,omitempty"`
	AvailableBalance Amount `json:"available_balance,omitzero"`
	LedgerBalance    Amount `json:"ledger_balance,omitzero"`
}

// Transaction is the TRANSACTION event. Parse returns it (as *Transaction)
// only when the variant is not recognised; a recognised variant comes as one
// of the Transaction* variant types, which embed Transaction.
type Transaction struct {
	Event           string          `json:"event"`
	CardTransaction CardTransaction `json:"card_transaction"`
}

// EventName returns "TRANSACTION".
func (*Transaction) EventName() string { return EventTransaction }

// VariantName returns "": a bare *Transaction is a transaction whose variant
// was not recognised.
func (*Transaction) VariantName() string { return "" }

// Fees returns the transaction's fees (see CardTransaction.Fees).
func (t *Transaction) Fees() []Fee { return t.CardTransaction.Fees() }

func (t *Transaction) transaction() *Transaction { return t }

// AsTransaction returns the Transaction inside ev when ev is a TRANSACTION
// event of any variant (or of none), so that code common to every
// transaction needs one case, not nine.
func AsTransaction(ev Event) (*Transaction, bool) {
	if x, ok := ev.(interface{ transaction() *Transaction }); ok {
		return x.transaction(), true
	}
	return nil, false
}

// TransactionPurchase is a TRANSACTION with message_type AUTHORIZATION and
// transaction_type PURCHASE.
type TransactionPurchase struct{ Transaction }

// VariantName returns "PURCHASE".
func (*TransactionPurchase) VariantName() string { return "PURCHASE" }

// TransactionCashWithdrawal is a TRANSACTION with message_type AUTHORIZATION
// and transaction_type CASH_WITHDRAWAL.
type TransactionCashWithdrawal struct{ Transaction }

// VariantName returns "CASH_WITHDRAWAL".
func (*TransactionCashWithdrawal) VariantName() string { return "CASH_WITHDRAWAL" }

// TransactionBalanceInquiry is a TRANSACTION with message_type AUTHORIZATION
// and transaction_type BALANCE_INQUIRY.
type TransactionBalanceInquiry struct{ Transaction }

// VariantName returns "BALANCE_INQUIRY".
func (*TransactionBalanceInquiry) VariantName() string { return "BALANCE_INQUIRY" }

// TransactionRefund is a TRANSACTION with message_type AUTHORIZATION and
// transaction_type REFUND.
type TransactionRefund struct{ Transaction }

// VariantName returns "REFUND".
func (*TransactionRefund) VariantName() string { return "REFUND" }

// TransactionReversal is a TRANSACTION with message_type AUTHORIZATION and
// transaction_type REVERSAL.
type TransactionReversal struct{ Transaction }

// VariantName returns "REVERSAL".
func (*TransactionReversal) VariantName() string { return "REVERSAL" }

// TransactionWalletCredit is a TRANSACTION with message_type API and
// transaction_type WALLET_CREDIT (a load; card_transaction.load_id).
type TransactionWalletCredit struct{ Transaction }

// VariantName returns "WALLET_CREDIT".
func (*TransactionWalletCredit) VariantName() string { return "WALLET_CREDIT" }

// TransactionWalletDebit is a TRANSACTION with message_type API and
// transaction_type WALLET_DEBIT (an unload; card_transaction.unload_id).
type TransactionWalletDebit struct{ Transaction }

// VariantName returns "WALLET_DEBIT".
func (*TransactionWalletDebit) VariantName() string { return "WALLET_DEBIT" }

// TransactionWalletTransfer is a TRANSACTION with message_type API and
// transaction_type WALLET_TRANSFER (card_transaction.transfer_id, between
// account_id1 and account_id2).
type TransactionWalletTransfer struct{ Transaction }

// VariantName returns "WALLET_TRANSFER".
func (*TransactionWalletTransfer) VariantName() string { return "WALLET_TRANSFER" }

// ExpiredAuth is the EXPIRED_AUTH event: the expired authorization or
// pre-authorization, with card_transaction.auth_expired_at and
// auth_expired_by.
type ExpiredAuth struct {
	Event           string          `json:"event"`
	CardTransaction CardTransaction `json:"card_transaction"`
}

// EventName returns "EXPIRED_AUTH".
func (*ExpiredAuth) EventName() string { return EventExpiredAuth }

// VariantName returns "" (EXPIRED_AUTH has no variants).
func (*ExpiredAuth) VariantName() string { return "" }
