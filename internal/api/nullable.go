package api

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// nullable is a request member that may be absent (keep the stored value),
// null (clear it, as "" or [] would) or a value. A plain pointer cannot
// tell null from absent: "basic_auth_password": null would keep a
// credential its sender meant to remove.
type nullable[T any] struct {
	Set   bool // the member was present, as null or as a value
	Null  bool
	Value T
}

// UnmarshalJSON decodes the value as the request decoder does: unknown
// members of objects inside it are refused too.
func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if isNull(b) {
		n.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&n.Value)
}

// valueType is T, for the error reporting that walks request types.
func (n nullable[T]) valueType() reflect.Type { return reflect.TypeFor[T]() }

var nullableType = reflect.TypeFor[interface{ valueType() reflect.Type }]()

// unwrapNullable returns the type a nullable member holds (t itself
// otherwise), so that error paths reach inside it
// ("config.custom_headers[1].header_name").
func unwrapNullable(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Struct && t.Implements(nullableType) {
		return reflect.Zero(t).Interface().(interface{ valueType() reflect.Type }).valueType()
	}
	return t
}
