package api

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/store"
)

// hostCheck checks the addresses a normalized host resolves to. nil skips
// it: a request is applied a second time inside the write transaction,
// where no network I/O may run, after it was checked once outside.
type hostCheck func(field, host string) *apiError

// resolvingCheck refuses a host that resolves to an address the guard
// refuses; one that does not resolve yet is accepted, as every connection
// is checked again when it is made.
func (s *server) resolvingCheck(r *http.Request) hostCheck {
	return func(field, host string) *apiError {
		err := s.Guard.CheckHost(r.Context(), s.Resolver, host)
		if errors.Is(err, netguard.ErrBlocked) {
			return invalid(field, "%v (private, loopback and link-local targets need HERALD_ALLOW_PRIVATE_TARGETS=true)", err)
		}
		if err != nil {
			s.Logger.Info("host does not resolve at registration", "field", field, "host", host, "err", err)
		}
		return nil
	}
}

// checkURL validates a URL Herald will call (an endpoint or a token URL)
// and returns it as it will be stored and called: its host normalized
// (netguard.NormalizeHost) and, with check, its addresses checked.
func (s *server) checkURL(raw, field string, check hostCheck) (string, *apiError) {
	if raw == "" {
		return "", invalid(field, "is required")
	}
	if len(raw) > maxEndpointLen {
		return "", invalid(field, "is longer than %d characters", maxEndpointLen)
	}
	if msg := urlCharacters(raw); msg != "" {
		return "", invalid(field, "%s", msg)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", invalid(field, "must be an absolute URL such as https://client.example/hooks")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !s.AllowHTTP {
			return "", invalid(field, "must use https (http is allowed only when HERALD_ALLOW_HTTP=true)")
		}
	default:
		return "", invalid(field, "scheme %q is not supported; use https", u.Scheme)
	}
	if u.User != nil {
		return "", invalid(field, "must not carry credentials; use config.basic_auth_username and basic_auth_password")
	}
	if u.Fragment != "" {
		return "", invalid(field, "must not have a #fragment")
	}
	host, err := netguard.NormalizeHost(u.Hostname())
	if err != nil {
		return "", invalid(field, "%v", err)
	}
	port := u.Port()
	if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port) {
		return "", invalid(field, "port %q must be a number between 1 and 65535 without leading zeros", port)
	}
	u.Host = joinHost(host, port)
	if check != nil {
		if err := check(field, host); err != nil {
			return "", err
		}
	}
	return u.String(), nil
}

// urlCharacters says what is wrong with the characters of a URL, if
// anything. Whitespace would go out raw in the request line ("/a?x=1
// HTTP/1.0 X"), control and format characters hide what a URL says; a
// URL that needs them percent-encodes them.
func urlCharacters(raw string) string {
	for i, r := range raw {
		switch {
		case unicode.IsSpace(r):
			return "must not contain whitespace (" + runeName(r) + " at byte " + strconv.Itoa(i) + "); percent-encode it"
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return "must not contain control characters (" + runeName(r) + " at byte " + strconv.Itoa(i) + "); percent-encode it"
		}
	}
	return ""
}

func runeName(r rune) string { return "U+" + strings.ToUpper(strconv.FormatInt(int64(r), 16)) }

// joinHost is a URL's host member: an IPv6 address in brackets, the port
// after a colon when there is one.
func joinHost(host, port string) string {
	if port != "" {
		return net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// origin is where a URL's requests go: scheme, normalized host and port
// (the scheme's default when none is written). ok is false for a URL that
// does not parse, which is then a different origin from every other.
func origin(raw string) (o string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	host, err := netguard.NormalizeHost(u.Hostname())
	if err != nil {
		return "", false
	}
	port, err := strconv.Atoi(u.Port())
	if u.Port() == "" {
		port, err = map[string]int{"http": 80, "https": 443}[u.Scheme], nil
	}
	if err != nil || port == 0 {
		return "", false
	}
	return u.Scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)), true
}

// sameOrigin reports whether two URLs send their requests to the same
// place, so that credentials meant for one may go to the other.
func sameOrigin(a, b string) bool {
	oa, ok := origin(a)
	ob, okb := origin(b)
	return ok && okb && oa == ob
}

// movedMessage explains why a masked credential is refused.
func movedMessage(what string) string {
	return "is masked, but the endpoint moves to a new origin (scheme, host or port), where " + what +
		" stored for the old one is not sent: send it again, or remove it"
}

// resendOnMove refuses a change that moves the endpoint to another origin
// and leaves out a stored credential: it would otherwise be sent to the new
// origin without its sender ever having seen it. The credentials sent
// masked were refused already.
func resendOnMove(in *configInput, c store.WebhookConfig) *apiError {
	if in == nil {
		in = &configInput{}
	}
	const hint = "is not sent to a new origin (scheme, host or port): the endpoint moves, so send %s again in this request, or remove it"
	switch {
	case !in.BasicAuthPassword.Set && c.BasicAuthPassword != "":
		return invalid("config.basic_auth_password", hint+" with \"\"", "the password")
	case !in.CustomHeaders.Set && len(c.CustomHeaders) > 0:
		return invalid("config.custom_headers[0].header_value", hint+" with \"custom_headers\": []", "the custom headers")
	case len(in.OAuth2) == 0 && c.OAuth2 != nil:
		return invalid("config.oauth2.client_secret", hint+" with \"oauth2\": null", "config.oauth2 with its client_secret")
	}
	return nil
}
