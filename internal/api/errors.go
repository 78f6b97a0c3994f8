package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Error codes of the error body.
const (
	codeInvalid          = "invalid_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethod           = "method_not_allowed"
	codeTooLarge         = "payload_too_large"
	codeConflict         = "conflict"
	codeIdempotency      = "idempotency_conflict"
	codeFanout           = "fanout_too_large"
	codeLimit            = "limit_exceeded"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal_error"
	codeUnsupportedMedia = "unsupported_media_type"
)

// apiError is every failure answer: {"error": {"code", "message", "field"}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func invalid(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: codeInvalid, Message: fmt.Sprintf(format, args...), Field: field}
}

func notFound(what string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: what + " not found"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal_error","message":"encoding the answer failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(buf, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, struct {
		Error *apiError `json:"error"`
	}{e})
}

// decode reads a JSON request body into dst, refusing unknown fields (named
// by their path), wrong types, trailing data and oversized bodies. An empty
// body is allowed only when allowEmpty is set (dst keeps its zero value).
func decode(r *http.Request, dst any, allowEmpty bool) *apiError {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit)}
		}
		return invalid("", "reading request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return invalid("", "request body is required")
	}
	return decodeBytes(body, dst)
}

func decodeBytes(body []byte, dst any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			if typeErr.Field == "" {
				return invalid("", "request body must be %s", kindName(reflect.TypeOf(dst).Elem()))
			}
			// typeErr.Field has no array indexes ("events", not "events[1]").
			field := typeErr.Field
			var raw any
			if json.Unmarshal(body, &raw) == nil {
				if p := wrongType(raw, reflect.TypeOf(dst).Elem(), ""); p != "" {
					field = p
				}
			}
			return invalid(field, "must be %s", kindName(typeErr.Type))
		case errors.As(err, &syntaxErr):
			return invalid("", "request body is not valid JSON: %v", err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			var raw any
			_ = json.Unmarshal(body, &raw)
			return invalid(unknownField(raw, reflect.TypeOf(dst).Elem(), ""), "unknown field")
		default:
			return invalid("", "request body is not valid JSON: %v", err)
		}
	}
	// dec.More misses a stray '}' or ']' after the value: check the rest.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return invalid("", "request body must hold one JSON value")
	}
	return nil
}

// kindName says in words what JSON a Go type expects.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "an array"
	default:
		return "an object"
	}
}

// unknownField finds the path of the first member of raw that t has no
// field for ("config.custom_headers[0].colour").
func unknownField(raw any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	t = unwrapNullable(t)
	switch v := raw.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return ""
		}
		fields := jsonFields(t)
		for _, key := range slices.Sorted(maps.Keys(v)) {
			val := v[key]
			ft, ok := fields[strings.ToLower(key)]
			p := joinPath(path, key)
			if !ok {
				return p
			}
			if found := unknownField(val, ft, p); found != "" {
				return found
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return ""
		}
		for i, item := range v {
			if found := unknownField(item, t.Elem(), path+"["+strconv.Itoa(i)+"]"); found != "" {
				return found
			}
		}
	}
	return ""
}

// jsonFields maps the lower-cased JSON member names of struct t to their
// types; the members of an embedded struct are t's own, as encoding/json
// decodes them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct {
			maps.Copy(fields, jsonFields(f.Type))
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[strings.ToLower(name)] = f.Type
	}
	return fields
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// wrongType finds the path of the first member of raw whose JSON type t
// cannot hold ("config.custom_headers[1].header_name"), or "".
func wrongType(raw any, t reflect.Type, path string) string {
	t = unwrapNullable(t)
	if raw == nil || reflect.PointerTo(t).Implements(unmarshalerType) {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Interface {
		return ""
	}
	switch v := raw.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return path
		}
		fields := jsonFields(t)
		for _, key := range slices.Sorted(maps.Keys(v)) {
			if ft, ok := fields[strings.ToLower(key)]; ok {
				if found := wrongType(v[key], ft, joinPath(path, key)); found != "" {
					return found
				}
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return path
		}
		for i, item := range v {
			if found := wrongType(item, t.Elem(), path+"["+strconv.Itoa(i)+"]"); found != "" {
				return found
			}
		}
	case string:
		if t.Kind() != reflect.String {
			return path
		}
	case bool:
		if t.Kind() != reflect.Bool {
			return path
		}
	case float64:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		default:
			return path
		}
	}
	return ""
}
