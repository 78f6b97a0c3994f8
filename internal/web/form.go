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
// their fields are sent). The mutual TLS fieldset is rows, but of one
// optional object (config.tls), which is sent whole or as null (see
// formGroup.Object).

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
	kindPEM      fieldKind = "pem"      // PEM text (certificates), in a text area
	// kindSecretPEM is a PEM private key, in a text area that is always
	// empty: the key is never put in a page, not even as typed after a
	// refusal (a page can be cached, or shown over a shoulder). Left empty
	// while one is stored, it is sent masked, which keeps the stored key.
	kindSecretPEM fieldKind = "secret-pem"
	// kindRemove is a checkbox, shown while its group's object is stored,
	// that sends the object as null (removes it) whatever its members hold.
	kindRemove fieldKind = "remove"
)

// mask is how the API shows a stored credential, and how a request says
// "keep the stored one".
const mask = "********"

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

// formGroup is a fieldset of the form.
type formGroup struct {
	Key, Title string
	// Object, when set, is the optional object whose members the group's
	// fields are (config.tls). The API replaces such an object whole, so
	// the form sends every member, or null: when its remove box is ticked,
	// or when every member is left empty and none is stored (the webhook
	// has none, and gets none). A refusal naming the object itself (not a
	// member) is shown on the fieldset.
	Object string
	// StoredBy is a member every stored Object has in the API's answers
	// (config.tls.client_certificate_expires): read on edit, it says one
	// is stored, and it is shown on the fieldset.
	StoredBy string
}

// Fieldsets of the form, in order; the events, custom headers and
// authentication choice have their own places in the template.
var formGroups = []formGroup{
	{Key: "endpoint", Title: "Endpoint"},
	{Key: "auth", Title: "Authentication"},
	{Key: "delivery", Title: "Delivery"},
	{Key: "tls", Title: "Mutual TLS (client certificate)", Object: "config.tls", StoredBy: "client_certificate_expires"},
	{Key: "filter", Title: "Content filter"},
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
	{Name: "config.tls.client_certificate", Label: "Client certificate (PEM)", Kind: kindPEM, Group: "tls", Empty: emptyString,
		Placeholder: "-----BEGIN CERTIFICATE-----",
		Help:        "Presented on every delivery, ping and OAuth2 token request (https endpoints only); any intermediates follow it. Leave it empty for no mutual TLS; once set, remove it with the box below."},
	{Name: "config.tls.client_key", Label: "Client private key (PEM)", Kind: kindSecretPEM, Group: "tls", Empty: emptyString,
		Placeholder: "-----BEGIN PRIVATE KEY-----",
		Help:        "Unencrypted PKCS #8, PKCS #1 (RSA) or SEC 1 (EC). Encrypted at rest and never shown again."},
	{Name: "config.tls.ca_certificates", Label: "CA certificates (PEM)", Kind: kindPEM, Group: "tls", Empty: emptyNull,
		Placeholder: "-----BEGIN CERTIFICATE-----",
		Help:        "Optional: a private PKI's CAs, trusted for the endpoint's certificate instead of the system roots."},
	{Name: "config.tls.server_name", Label: "Server name", Kind: kindText, Group: "tls", Empty: emptyNull, Placeholder: "hooks.bank.example",
		Help: "Optional: the name the endpoint's certificate is verified for (and sent as SNI), when it is not the endpoint's host."},
	{Name: "config.tls", Label: "Remove mutual TLS: present no client certificate", Kind: kindRemove, Group: "tls"},
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
	// Stored says the field's group object is stored (a kindSecretPEM
	// field left empty keeps it; a kindRemove field is shown).
	Stored bool
}

type groupView struct {
	formGroup
	Fields []fieldView
	// Stored is the StoredBy member of the stored Object ("": none is
	// stored). The form carries it (stored.<Object>) so that a refused
	// form, shown again, still keeps the stored secret.
	Stored string
	Error  string // a refusal naming Object itself
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
		gv := groupView{formGroup: g}
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
		case kindSecretPEM, kindRemove:
			// never filled: the key is masked anyway, and not shown
		default:
			f.Value = asString(val)
		}
	})
	v.setStored(func(g *groupView) string { return asString(pathValue(hook, g.Object+"."+g.StoredBy)) })
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

// setStored sets what each object group has stored, and tells its fields.
func (v *formView) setStored(stored func(*groupView) string) {
	for gi := range v.Groups {
		g := &v.Groups[gi]
		if g.Object == "" {
			continue
		}
		g.Stored = stored(g)
		for fi := range g.Fields {
			g.Fields[fi].Stored = g.Stored != ""
		}
	}
}

// read sets the form from a posted form (to show it again as typed, but a
// kindSecretPEM field, which is only sent).
func (v *formView) read(form url.Values) {
	v.setStored(func(g *groupView) string { return form.Get("stored." + g.Object) })
	v.fields(func(f *fieldView) {
		if f.Kind == kindCheckbox || f.Kind == kindRemove {
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
	for gi := range v.Groups {
		g := &v.Groups[gi]
		if g.Object != "" {
			g.setObject(b)
			continue
		}
		for fi := range g.Fields {
			f := &g.Fields[fi]
			if f.Auth != "" && f.Auth != v.Auth {
				continue // set below, by the authentication choice
			}
			if val, send := f.value(); send {
				setPath(b, f.Name, val)
			}
		}
	}
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

// setObject sets an object group's member of the body: null when its
// remove box is ticked, or when every member is empty and none is stored;
// otherwise every member, with a stored secret left empty sent masked
// (kept, as the API keeps a masked credential; it refuses a masked key
// when the endpoint moves to another origin, beside the key's field).
func (g *groupView) setObject(b map[string]any) {
	obj, empty := map[string]any{}, true
	for i := range g.Fields {
		f := &g.Fields[i]
		if f.Kind == kindRemove {
			if f.Checked {
				setPath(b, g.Object, nil)
				return
			}
			continue
		}
		val, send := f.value()
		if strings.TrimSpace(f.Value) != "" {
			empty = false
		} else if f.Kind == kindSecretPEM && g.Stored != "" {
			val, send = mask, true
		}
		if send {
			setPath(obj, strings.TrimPrefix(f.Name, g.Object+"."), val)
		}
	}
	if empty && g.Stored == "" {
		setPath(b, g.Object, nil)
		return
	}
	setPath(b, g.Object, obj)
}

// value is what a field sends, and whether it sends anything.
func (f *fieldView) value() (any, bool) {
	if f.Kind == kindCheckbox {
		return f.Checked, true
	}
	s := strings.TrimSpace(f.Value)
	switch f.Kind {
	case kindSecret:
		s = f.Value // a credential is sent exactly as typed
	case kindPEM, kindSecretPEM:
		// Browsers send a text area's lines ending in CRLF; PEM is lines.
		if s = strings.ReplaceAll(s, "\r\n", "\n"); s != "" {
			s += "\n"
		}
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
		if f.Kind == kindRemove {
			return // not a member: its object's refusals go on the fieldset
		}
		if field == f.Name || strings.HasPrefix(field, f.Name+".") || strings.HasPrefix(field, f.Name+"[") {
			if best == nil || len(f.Name) > len(best.Name) {
				best = f
			}
		}
	})
	if best != nil {
		best.Error, v.ErrorField = msg, best.ID
		return
	}
	for gi := range v.Groups {
		if g := &v.Groups[gi]; g.Object != "" && (field == g.Object || strings.HasPrefix(field, g.Object+".")) {
			g.Error, v.ErrorField = msg, "group-"+g.Key
		}
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
