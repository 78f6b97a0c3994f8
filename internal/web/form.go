package web

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// The webhook form (create and edit) is a table of fields, each bound to a
// member of the API's webhook body by its JSON path, which is also the
// form field's name. The form is turned into that body and sent to the API
// (POST or PUT /webhooks), which validates it as it validates any client's;
// its error answer names a member, and the message is shown beside the
// field bound to it. A new webhook setting is one more row of
// webhookFields; the template renders every row by its kind.
//
// A few parts are not plain rows: the events (checkboxes from the
// catalogue), the custom headers (rows of name and value) and the
// authentication choice (none, basic or OAuth2, which decides which of
// their fields are sent).

// fieldKind is how a field is shown and how its value is sent.
type fieldKind string

const (
	kindText     fieldKind = "text"     // a string
	kindURL      fieldKind = "url"      // a string, shown as a URL input
	kindNumber   fieldKind = "number"   // a number (sent as typed when it is not one: the API names it)
	kindCheckbox fieldKind = "checkbox" // true when ticked
	kindSelect   fieldKind = "select"   // one of Options
	kindSecret   fieldKind = "secret"   // a credential: shown masked when stored, sent back masked to keep it
	kindJSON     fieldKind = "json"     // any JSON value, typed in a text area
)

// emptyRule is what a field left empty sends.
type emptyRule int

const (
	emptyOmit   emptyRule = iota // nothing: the API's default (create) or the stored value (edit)
	emptyNull                    // null: clears the setting
	emptyString                  // "": clears a string setting
)

type option struct{ Value, Label string }

// formField is one row of the webhook form.
type formField struct {
	Name        string // JSON path of the API member, and the form field's name
	Label       string
	Kind        fieldKind
	Help        string
	Placeholder string
	Options     []option // kindSelect
	Group       string   // the fieldset it belongs to (see formGroups)
	Empty       emptyRule
	// Auth, when set, sends the field only with that authentication
	// choice ("basic", "oauth2"); with another one it sends Empty.
	Auth string
	// Required marks the field for the browser (the API decides).
	Required bool
}

// Fieldsets of the form, in order; the events, custom headers and
// authentication choice have their own places in the template.
var formGroups = []struct{ Key, Title string }{
	{"endpoint", "Endpoint"},
	{"auth", "Authentication"},
	{"delivery", "Delivery"},
	{"filter", "Content filter"},
}

// authChoices are the authentication choices of the form.
var authChoices = []option{{"none", "None"}, {"basic", "Basic auth"}, {"oauth2", "OAuth2 client credentials"}}

// webhookFields are the plain rows of the webhook form.
var webhookFields = []formField{
	{Name: "endpoint", Label: "Endpoint URL", Kind: kindURL, Group: "endpoint", Required: true, Empty: emptyString,
		Placeholder: "https://client.example/hooks", Help: "Where Herald POSTs each notification."},
	{Name: "config.basic_auth_username", Label: "Username", Kind: kindText, Group: "auth", Auth: "basic", Empty: emptyString},
	{Name: "config.basic_auth_password", Label: "Password", Kind: kindSecret, Group: "auth", Auth: "basic", Empty: emptyString},
	{Name: "config.oauth2.token_url", Label: "Token URL", Kind: kindURL, Group: "auth", Auth: "oauth2", Empty: emptyString},
	{Name: "config.oauth2.client_id", Label: "Client id", Kind: kindText, Group: "auth", Auth: "oauth2", Empty: emptyString},
	{Name: "config.oauth2.client_secret", Label: "Client secret", Kind: kindSecret, Group: "auth", Auth: "oauth2", Empty: emptyString},
	{Name: "config.oauth2.scope", Label: "Scope", Kind: kindText, Group: "auth", Auth: "oauth2", Empty: emptyString, Help: "Optional."},
	{Name: "config.format", Label: "Format", Kind: kindSelect, Group: "delivery", Empty: emptyOmit,
		Options: []option{{"ncore", "nCore: the event as published"}, {"ni", "Network International envelope"}}},
	{Name: "config.signature", Label: "Signature", Kind: kindSelect, Group: "delivery", Empty: emptyOmit,
		Options: []option{{"hmac-sha256", "HMAC-SHA256 with a whsec_ secret (Standard Webhooks v1)"}, {"ed25519", "Ed25519 key pair (Standard Webhooks v1a)"}}},
	{Name: "config.timeout_seconds", Label: "Timeout (seconds)", Kind: kindNumber, Group: "delivery", Empty: emptyOmit, Placeholder: "10", Help: "1 to 30."},
	{Name: "config.max_retries", Label: "Retries", Kind: kindNumber, Group: "delivery", Empty: emptyNull,
		Help: "Empty: Herald's retry schedule (5s, 5m, 30m, 2h, 5h, 10h, 10h)."},
	{Name: "config.retry_interval_seconds", Label: "Retry interval (seconds)", Kind: kindNumber, Group: "delivery", Empty: emptyNull,
		Help: "With retries: a fixed wait between attempts."},
	{Name: "config.max_in_flight", Label: "Max in flight", Kind: kindNumber, Group: "delivery", Empty: emptyOmit, Placeholder: "16",
		Help: "Most requests at once to this endpoint."},
	{Name: "config.rate_limit_per_second", Label: "Rate limit (per second)", Kind: kindNumber, Group: "delivery", Empty: emptyNull,
		Help: "Empty: no limit."},
	{Name: "config.ordered", Label: "Ordered: one at a time, in publish order", Kind: kindCheckbox, Group: "delivery"},
	{Name: "config.filter", Label: "Filter (JSON)", Kind: kindJSON, Group: "filter", Empty: emptyNull,
		Placeholder: `{"card_transaction.message_type": ["AUTHORIZATION"]}`,
		Help:        "Each listed path must hold one of its values for an event to be delivered; empty: every event subscribed to."},
}

// maxHeaderRows is how many custom header rows a form has room for beyond
// the ones filled in (the API takes at most 20).
const (
	spareHeaderRows = 2
	maxHeaderRows   = 20
)

// fieldView is a row of the form as rendered.
type fieldView struct {
	formField
	ID      string
	Value   string
	Checked bool
	Error   string
}

type groupView struct {
	Key, Title string
	Fields     []fieldView
}

// eventChoice is a catalogue event offered in the form.
type eventChoice struct {
	Name, Description string
	Sample            string
	Checked           bool
}

type headerRow struct {
	Name, Value string
	Error       string
}

// formView is the webhook form as rendered.
type formView struct {
	Editing     bool
	ID          string // the webhook edited
	Groups      []groupView
	Auth        string
	AuthChoices []option
	AuthError   string
	AllEvents   bool
	Events      []eventChoice
	selected    []string // the events chosen, as sent (the API checks them)
	EventsError string
	Headers     []headerRow
	HeadersErr  string
	// Error is a refusal no field is bound to, or a summary of one.
	Error      string
	ErrorField string // the form field id the summary links to
}

// fieldID is the HTML id of a field's input.
func fieldID(name string) string { return "f-" + strings.NewReplacer(".", "-", "_", "-").Replace(name) }

// newFormView is an empty form (create: the API's defaults are placeholders).
func newFormView(catalogue []eventType) *formView {
	v := &formView{Auth: "none", AuthChoices: authChoices}
	for _, g := range formGroups {
		gv := groupView{Key: g.Key, Title: g.Title}
		for _, f := range webhookFields {
			if f.Group == g.Key {
				fv := fieldView{formField: f, ID: fieldID(f.Name)}
				if f.Kind == kindSelect && len(f.Options) > 0 {
					fv.Value = f.Options[0].Value
				}
				gv.Fields = append(gv.Fields, fv)
			}
		}
		v.Groups = append(v.Groups, gv)
	}
	for _, t := range catalogue {
		v.Events = append(v.Events, eventChoice{Name: t.Name, Description: t.Description, Sample: prettyJSON(t.Sample)})
	}
	v.Headers = make([]headerRow, spareHeaderRows)
	return v
}

// fields visits every plain row.
func (v *formView) fields(fn func(*fieldView)) {
	for gi := range v.Groups {
		for fi := range v.Groups[gi].Fields {
			fn(&v.Groups[gi].Fields[fi])
		}
	}
}

// fill sets the form from a webhook as the API shows it (edit).
func (v *formView) fill(hook map[string]any) {
	v.Editing, v.ID = true, asString(hook["id"])
	v.fields(func(f *fieldView) {
		val := pathValue(hook, f.Name)
		switch f.Kind {
		case kindCheckbox:
			f.Checked, _ = val.(bool)
		case kindJSON:
			if val != nil {
				buf, _ := json.MarshalIndent(val, "", "  ")
				f.Value = string(buf)
			}
		default:
			f.Value = asString(val)
		}
	})
	switch {
	case pathValue(hook, "config.oauth2") != nil:
		v.Auth = "oauth2"
	case asString(pathValue(hook, "config.basic_auth_username")) != "":
		v.Auth = "basic"
	default:
		v.Auth = "none"
	}
	events, _ := hook["events"].([]any)
	v.setEvents(func(yield func(string) bool) {
		for _, e := range events {
			if !yield(asString(e)) {
				return
			}
		}
	})
	v.Headers = nil
	headers, _ := pathValue(hook, "config.custom_headers").([]any)
	for _, h := range headers {
		m, _ := h.(map[string]any)
		v.Headers = append(v.Headers, headerRow{Name: asString(m["header_name"]), Value: asString(m["header_value"])})
	}
	v.Headers = append(v.Headers, make([]headerRow, min(spareHeaderRows, maxHeaderRows-len(v.Headers)))...)
}

func (v *formView) setEvents(names func(func(string) bool)) {
	v.AllEvents, v.selected = false, nil
	checked := map[string]bool{}
	for n := range names {
		if n == "*" {
			v.AllEvents = true
		}
		checked[n] = true
		v.selected = append(v.selected, n)
	}
	for i := range v.Events {
		v.Events[i].Checked = checked[v.Events[i].Name]
	}
}

// read sets the form from a posted form (to show it again as typed).
func (v *formView) read(form url.Values) {
	v.fields(func(f *fieldView) {
		if f.Kind == kindCheckbox {
			f.Checked = form.Get(f.Name) != ""
			return
		}
		f.Value = form.Get(f.Name)
	})
	v.Auth = form.Get("auth")
	if v.Auth == "" {
		v.Auth = "none"
	}
	v.setEvents(func(yield func(string) bool) {
		for _, e := range form["events"] {
			if !yield(e) {
				return
			}
		}
	})
	v.Headers = nil
	for i := 0; i < maxHeaderRows; i++ {
		n, ok := form["header_name."+strconv.Itoa(i)]
		if !ok {
			break
		}
		v.Headers = append(v.Headers, headerRow{Name: strings.TrimSpace(n[0]), Value: form.Get("header_value." + strconv.Itoa(i))})
	}
	if len(v.Headers) < maxHeaderRows {
		v.Headers = append(v.Headers, headerRow{})
	}
}

// body is the API request body of the form: every field (edit sends them
// all, so the webhook becomes what the form shows).
func (v *formView) body() map[string]any {
	b := map[string]any{}
	v.fields(func(f *fieldView) {
		if f.Auth != "" && f.Auth != v.Auth {
			return // set below, by the authentication choice
		}
		val, send := f.value()
		if send {
			setPath(b, f.Name, val)
		}
	})
	switch v.Auth {
	case "oauth2":
		setPath(b, "config.basic_auth_username", "")
		setPath(b, "config.basic_auth_password", "")
	case "basic":
		setPath(b, "config.oauth2", nil)
	default:
		setPath(b, "config.basic_auth_username", "")
		setPath(b, "config.basic_auth_password", "")
		setPath(b, "config.oauth2", nil)
	}
	events := []string{}
	for _, e := range v.selected {
		if !v.AllEvents || e == "*" {
			events = append(events, e)
		}
	}
	b["events"] = events
	headers := []map[string]string{}
	for _, h := range v.Headers {
		if h.Name != "" || h.Value != "" {
			headers = append(headers, map[string]string{"header_name": h.Name, "header_value": h.Value})
		}
	}
	setPath(b, "config.custom_headers", headers)
	return b
}

// value is what a field sends, and whether it sends anything.
func (f *fieldView) value() (any, bool) {
	if f.Kind == kindCheckbox {
		return f.Checked, true
	}
	s := strings.TrimSpace(f.Value)
	if f.Kind == kindSecret {
		s = f.Value // a credential is sent exactly as typed
	}
	if s == "" {
		switch f.Empty {
		case emptyNull:
			return nil, true
		case emptyString:
			return "", true
		}
		return nil, false
	}
	switch f.Kind {
	case kindNumber:
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return json.Number(s), true
		}
	case kindJSON:
		if json.Valid([]byte(s)) {
			return json.RawMessage(s), true
		}
	}
	return s, true // as typed: the API says what is wrong with it
}

// place shows an API refusal beside the field it names.
func (v *formView) place(e *apiError) {
	field, msg := e.Field, e.Message
	v.Error = "Herald refused this webhook: " + e.Error()
	switch {
	case field == "events" || strings.HasPrefix(field, "events["):
		v.EventsError, v.ErrorField = msg, "events"
		return
	case strings.HasPrefix(field, "config.custom_headers"):
		v.HeadersErr, v.ErrorField = msg, "headers"
		if i, ok := rowIndex(field, "config.custom_headers"); ok && i < len(v.Headers) {
			v.Headers[i].Error, v.HeadersErr = msg, ""
		}
		return
	case field == "config.oauth2":
		v.AuthError, v.ErrorField = msg, "f-auth"
		return
	}
	var best *fieldView
	v.fields(func(f *fieldView) {
		if field == f.Name || strings.HasPrefix(field, f.Name+".") || strings.HasPrefix(field, f.Name+"[") {
			if best == nil || len(f.Name) > len(best.Name) {
				best = f
			}
		}
	})
	if best != nil {
		best.Error, v.ErrorField = msg, best.ID
	}
}

// rowIndex reads i from "<prefix>[i]...".
func rowIndex(field, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(field, prefix+"[")
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

// pathValue reads a dotted path of a decoded JSON object.
func pathValue(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[p]
	}
	return cur
}

// setPath sets a dotted path of a JSON object, making the objects on the
// way; a null on the way (config.oauth2 set to null) is replaced.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// asString shows a decoded JSON scalar as a form value.
func asString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		buf, _ := json.Marshal(x)
		return string(bytes.TrimSpace(buf))
	}
}
