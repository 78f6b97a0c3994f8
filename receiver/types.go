package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// token records which JSON token an Amount or a Flag was read from, so that
// it marshals back to the same kind.
type token uint8

const (
	tokenAbsent token = iota // member absent (the zero value)
	tokenNumber
	tokenString
	tokenBool
	tokenNull
)

// ErrNoAmount is returned by Amount.Float64 for an absent or null amount.
var ErrNoAmount = errors.New("receiver: no amount (absent or null)")

// Amount is a money amount, rate or percentage as the platform sends it: a
// JSON number (100, 0.5, 10.00), a JSON string ("6.0", "3.6153") or, where
// the schema allows it (original_amount_billing), JSON null or the string
// "null". It keeps the exact decimal text, so no precision is lost, and
// marshals back to the token kind it was read from: a number stays a number
// with the same digits (10.00 is not rewritten as 10), a string stays a
// string, null stays null.
//
// The zero Amount stands for an absent member; struct fields of type Amount
// carry the omitzero option, so an absent amount stays absent on Marshal.
type Amount struct {
	text string
	kind token
}

// NewAmount returns an Amount that marshals as the JSON number text (for
// example "10.00"). It fails if text is not a JSON number.
func NewAmount(text string) (Amount, error) {
	if !isJSONNumber([]byte(text)) {
		return Amount{}, fmt.Errorf("receiver: %q is not a JSON number", text)
	}
	return Amount{text: text, kind: tokenNumber}, nil
}

// StringAmount returns an Amount that marshals as the JSON string text (for
// example "6.0").
func StringAmount(text string) Amount {
	return Amount{text: text, kind: tokenString}
}

// String returns the amount's text as read: the digits of a number token,
// the contents of a string token ("6.0", or "null" for the string "null"),
// and "" for an absent amount or JSON null.
func (a Amount) String() string {
	return a.text
}

// Float64 returns the amount as a float64. It returns ErrNoAmount for an
// absent amount, JSON null or the string "null", and a parse error for a
// string that is not a decimal number.
func (a Amount) Float64() (float64, error) {
	if a.kind == tokenAbsent || a.IsNull() {
		return 0, ErrNoAmount
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(a.text), 64)
	if err != nil {
		return 0, fmt.Errorf("receiver: amount %q: %w", a.text, err)
	}
	return f, nil
}

// IsZero reports whether the amount is absent (the zero Amount). A present
// amount of 0 is not zero in this sense.
func (a Amount) IsZero() bool {
	return a.kind == tokenAbsent
}

// IsNull reports whether the amount is JSON null or the string "null" (the
// spelling the source documents use for original_amount_billing).
func (a Amount) IsNull() bool {
	return a.kind == tokenNull || (a.kind == tokenString && strings.EqualFold(strings.TrimSpace(a.text), "null"))
}

// IsString reports whether the amount was read from (and marshals back to) a
// JSON string.
func (a Amount) IsString() bool {
	return a.kind == tokenString
}

// MarshalJSON writes the amount as the token it was read from. An absent
// amount marshals as null (fields of type Amount omit it instead).
func (a Amount) MarshalJSON() ([]byte, error) {
	switch a.kind {
	case tokenNumber:
		return []byte(a.text), nil
	case tokenString:
		return json.Marshal(a.text)
	default:
		return []byte("null"), nil
	}
}

// UnmarshalJSON reads a JSON number, a JSON string or null. Any other token
// (a boolean, an object, an array) is an error.
func (a *Amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*a = Amount{kind: tokenNull}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("receiver: amount: %w", err)
		}
		*a = Amount{text: s, kind: tokenString}
	case isJSONNumber(b):
		*a = Amount{text: string(b), kind: tokenNumber}
	default:
		return fmt.Errorf("receiver: amount must be a number or a string, got %s", b)
	}
	return nil
}

// isJSONNumber reports whether b is exactly one JSON number token.
func isJSONNumber(b []byte) bool {
	return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) && json.Valid(b)
}

// Flag is a yes/no member the platform sends either as a JSON boolean or as a
// string: "Y" and "YES" mean true, "N" and "NO" mean false (isPreAuth and
// isCancelled show "Y" and "YES"). It keeps the token it was read from and
// marshals back to it: "Y" stays "Y", true stays true.
//
// The zero Flag stands for an absent member; struct fields of type Flag carry
// the omitzero option. JSON null reads as absent.
type Flag struct {
	text string
	kind token
}

// BoolFlag returns a Flag that marshals as the JSON boolean b.
func BoolFlag(b bool) Flag {
	return Flag{text: strconv.FormatBool(b), kind: tokenBool}
}

// StringFlag returns a Flag that marshals as the JSON string s (for example
// "Y").
func StringFlag(s string) Flag {
	return Flag{text: s, kind: tokenString}
}

// Bool reports whether the flag is set: true for the boolean true and for the
// strings "Y" and "YES" (in any case, surrounding spaces ignored); false for
// everything else, including an absent flag and unrecognised strings (see
// Valid).
func (f Flag) Bool() bool {
	switch f.kind {
	case tokenBool:
		return f.text == "true"
	case tokenString:
		s := strings.ToUpper(strings.TrimSpace(f.text))
		return s == "Y" || s == "YES"
	}
	return false
}

// Valid reports whether the flag is present and is a boolean or one of the
// documented strings "Y", "YES", "N", "NO" (in any case).
func (f Flag) Valid() bool {
	switch f.kind {
	case tokenBool:
		return true
	case tokenString:
		switch strings.ToUpper(strings.TrimSpace(f.text)) {
		case "Y", "YES", "N", "NO":
			return true
		}
	}
	return false
}

// IsZero reports whether the flag is absent (the zero Flag).
func (f Flag) IsZero() bool {
	return f.kind == tokenAbsent
}

// IsString reports whether the flag was read from (and marshals back to) a
// JSON string.
func (f Flag) IsString() bool {
	return f.kind == tokenString
}

// String returns the flag's token as read: "Y", "YES", "true", "false", ...;
// "" when absent.
func (f Flag) String() string {
	return f.text
}

// MarshalJSON writes the flag as the token it was read from. An absent flag
// marshals as null (fields of type Flag omit it instead).
func (f Flag) MarshalJSON() ([]byte, error) {
	switch f.kind {
	case tokenBool:
		return []byte(f.text), nil
	case tokenString:
		return json.Marshal(f.text)
	default:
		return []byte("null"), nil
	}
}

// UnmarshalJSON reads a JSON boolean or a JSON string; null leaves the flag
// absent. Any other token is an error.
func (f *Flag) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = Flag{}
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		*f = Flag{text: string(b), kind: tokenBool}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("receiver: flag: %w", err)
		}
		*f = Flag{text: s, kind: tokenString}
	default:
		return fmt.Errorf("receiver: flag must be a boolean or a string, got %s", b)
	}
	return nil
}
