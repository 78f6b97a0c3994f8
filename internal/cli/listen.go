package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/receiver"
	"github.com/heraldhq/herald/signature"
)

// listenMaxBody bounds the bodies herald listen reads. It is above
// receiver.MaxBodyBytes because an event published through POST
// /events:batch may be larger than 1 MiB, and listen should show whatever
// Herald can send.
const listenMaxBody = 16 << 20

func newListen() *cobra.Command {
	var (
		addr       string
		secrets    []string
		publicKeys []string
		ni         bool
	)
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Run a local receiver that verifies signatures and prints what arrives",
		Long: `Run a local webhook receiver for development. Every request is printed: a one-line summary (time,
method, webhook-id, Herald-Event, Herald-Attempt, the parsed event and variant, the signature check and
the status answered) followed by the body as indented JSON.

With --secret (an hmac-sha256 webhook's whsec_ secret) or --public-key (an ed25519 webhook's whpk_ public
key), each repeatable or comma-separated in HERALD_LISTEN_SECRET and HERALD_LISTEN_PUBLIC_KEY, the Standard
Webhooks signature is verified and a request that fails is answered 401. A body that is not a known event is answered 400.
Otherwise the answer is 204, or with --ni the Network International response envelope
{"id", "type", "timestamp", "response": {"status": {"code": "00", ...}}} with 200.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := listenKeys(secrets, publicKeys)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			handler := newListenHandler(out, listenOptions{secrets: keys, ni: ni, color: useColor(out)})
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
			check := "signatures not checked (no --secret or --public-key)"
			switch {
			case len(publicKeys) == 0 && len(secrets) > 0:
				check = fmt.Sprintf("verifying signatures with %d secret(s)", len(secrets))
			case len(publicKeys) > 0:
				check = fmt.Sprintf("verifying signatures with %d secret(s) and %d public key(s)", len(secrets), len(publicKeys))
			}
			answer := "answering 204"
			if ni {
				answer = "answering the NI envelope with code 00"
			}
			fmt.Fprintf(out, "herald listen on http://%s: %s, %s; Ctrl-C stops\n", ln.Addr(), check, answer)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			select {
			case err := <-served:
				return err
			case <-ctx.Done():
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdown); err != nil {
				return err
			}
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			fmt.Fprintln(out, "herald listen stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:9000", "address to listen on")
	f.StringSliceVar(&secrets, "secret", nil, "webhook signing secret (whsec_...) to verify with; repeat it for several (during a rotation)")
	f.StringSliceVar(&publicKeys, "public-key", nil, "public key (whpk_...) of an ed25519 webhook to verify with; repeat it for several (during a rotation)")
	f.BoolVar(&ni, "ni", false, "answer with the NI response envelope (for webhooks with format ni)")
	// HERALD_LISTEN_*: a receiver must not pick up the server's HERALD_ADDR
	// (and bind the API's address) from the same shell.
	addEnv(cmd, envPrefix+"LISTEN_")
	return cmd
}

// listenKeys checks the keys of --secret and --public-key (without echoing
// them) and returns them as one list to verify with.
func listenKeys(secrets, publicKeys []string) ([]string, error) {
	for _, s := range secrets {
		if strings.HasPrefix(s, signature.PublicKeyPrefix) {
			return nil, errors.New("--secret: a whpk_ key is a public key: pass it with --public-key")
		}
		if _, err := signature.NewVerifier(s); err != nil {
			return nil, fmt.Errorf("--secret: %w", err)
		}
	}
	for _, k := range publicKeys {
		if !strings.HasPrefix(k, signature.PublicKeyPrefix) {
			return nil, errors.New("--public-key: not a whpk_ public key (an hmac-sha256 webhook's whsec_ secret goes to --secret)")
		}
		if _, err := signature.NewVerifier(k); err != nil {
			return nil, fmt.Errorf("--public-key: %w", err)
		}
	}
	return append(append([]string(nil), secrets...), publicKeys...), nil
}

// listenOptions configure the herald listen handler.
type listenOptions struct {
	secrets []string         // verify with these secrets and public keys; none: do not verify
	ni      bool             // answer the NI response envelope
	color   bool             // ANSI colours in the output
	now     func() time.Time // the clock (default time.Now)
}

// listenHandler is herald listen's http.Handler: it checks, parses, prints
// and answers each request. It is used without a network in the tests.
type listenHandler struct {
	opts listenOptions
	mu   sync.Mutex // one request's lines at a time
	out  io.Writer
}

// newListenHandler returns the handler of herald listen, printing to out.
func newListenHandler(out io.Writer, opts listenOptions) http.Handler {
	if opts.now == nil {
		opts.now = time.Now
	}
	return &listenHandler{opts: opts, out: out}
}

// Outcomes of the signature check, as printed.
const (
	sigVerified  = "verified"
	sigRefused   = "refused"
	sigUnchecked = "unchecked"
)

// exchange is one request and the answer, as printed.
type exchange struct {
	at                 time.Time
	method             string
	id, event, attempt string // headers
	parsed             string // EVENT or EVENT/VARIANT
	sig                string // sigVerified, sigRefused or sigUnchecked
	status             int
	problem            string // why the request was not accepted
	body               []byte // printed when not nil
}

func (l *listenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := l.opts.now()
	x := &exchange{
		at:      now,
		method:  r.Method,
		id:      r.Header.Get(signature.HeaderID),
		event:   r.Header.Get("Herald-Event"),
		attempt: r.Header.Get("Herald-Attempt"),
		sig:     sigUnchecked,
	}
	defer l.print(x)
	fail := func(status int, problem string) {
		x.status, x.problem = status, problem
		http.Error(w, problem, status)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "only POST is accepted")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, listenMaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", listenMaxBody))
			return
		}
		fail(http.StatusBadRequest, "cannot read the body: "+err.Error())
		return
	}
	if len(l.opts.secrets) > 0 {
		if err := receiver.Verify(l.opts.secrets, r.Header, body, now); err != nil {
			x.sig = sigRefused
			fail(http.StatusUnauthorized, "webhook signature refused: "+strings.TrimPrefix(err.Error(), "signature: "))
			return
		}
		x.sig = sigVerified
	}
	x.body = body
	ev, err := receiver.Parse(body)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	x.parsed = ev.EventName()
	if v := ev.VariantName(); v != "" {
		x.parsed += "/" + v
	}
	if !l.opts.ni {
		x.status = http.StatusNoContent
		w.WriteHeader(x.status)
		return
	}
	answer, err := json.Marshal(niResponse(body, x.id, ev, now))
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	x.status = http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(x.status)
	_, _ = w.Write(append(answer, '\n'))
}

// niAnswer is the NI response envelope.
type niAnswer struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Response  struct {
		Status struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"status"`
	} `json:"response"`
}

// niResponse answers body with success. id and type are those of the body
// when it is an NI envelope (no "event" member), or else the webhook-id
// header and the event name.
func niResponse(body []byte, webhookID string, ev receiver.Event, now time.Time) niAnswer {
	var envelope struct {
		Event any `json:"event"`
		ID    any `json:"id"`
		Type  any `json:"type"`
	}
	_ = json.Unmarshal(body, &envelope)
	var a niAnswer
	a.ID, a.Type = webhookID, ev.EventName()
	if s, ok := envelope.ID.(string); ok && envelope.Event == nil {
		a.ID = s
	}
	if s, ok := envelope.Type.(string); ok && envelope.Event == nil {
		a.Type = s
	}
	a.Timestamp = now.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	a.Response.Status.Code = "00"
	a.Response.Status.Description = "Success"
	return a
}

// ANSI escape sequences.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
)

// print writes x as a summary line, a line with the problem if any, and the
// body as indented JSON (as text if it is not JSON), in one Write.
func (l *listenHandler) print(x *exchange) {
	paint := func(code, s string) string {
		if !l.opts.color || s == "" {
			return s
		}
		return code + s + ansiReset
	}
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	sigColor := map[string]string{sigVerified: ansiGreen, sigRefused: ansiRed, sigUnchecked: ansiYellow}[x.sig]
	statusColor := ansiGreen
	if x.status >= 300 {
		statusColor = ansiRed
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s webhook-id=%s Herald-Event=%s Herald-Attempt=%s event=%s signature=%s -> %s\n",
		paint(ansiDim, x.at.Format("15:04:05.000")), x.method, orDash(x.id), orDash(x.event), orDash(x.attempt),
		paint(ansiBold, orDash(x.parsed)), paint(sigColor, x.sig),
		paint(statusColor, fmt.Sprintf("%d %s", x.status, http.StatusText(x.status))))
	if x.problem != "" {
		fmt.Fprintf(&b, "  %s\n", paint(ansiRed, x.problem))
	}
	if x.body != nil {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, x.body, "", "  "); err != nil {
			b.WriteString(printable(x.body))
		} else if l.opts.color {
			b.Write(colorJSON(pretty.Bytes()))
		} else {
			b.Write(pretty.Bytes())
		}
		b.WriteString("\n\n")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(b.Bytes())
}

// rawBodyShown is how much of a body that is not JSON herald listen prints.
const rawBodyShown = 4 << 10

// printable returns body as text for the terminal: at most rawBodyShown
// bytes, with control characters (other than newline and tab) and invalid
// UTF-8 shown as U+FFFD, so that a body cannot send escape sequences.
func printable(body []byte) string {
	more := len(body) - rawBodyShown
	if more > 0 {
		body = body[:rawBodyShown]
	}
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return unicode.ReplacementChar
	}, strings.ToValidUTF8(string(body), "\uFFFD"))
	if more > 0 {
		s += fmt.Sprintf("... (%d more bytes)", more)
	}
	return s
}

// colorJSON paints indented JSON: keys cyan, strings green, numbers and
// literals yellow or blue, punctuation as is.
func colorJSON(src []byte) []byte {
	var b bytes.Buffer
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			k := j
			for k < len(src) && (src[k] == ' ' || src[k] == '\n') {
				k++
			}
			code := ansiGreen
			if k < len(src) && src[k] == ':' {
				code = ansiCyan
			}
			b.WriteString(code)
			b.Write(src[i:j])
			b.WriteString(ansiReset)
			i = j
		case c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z':
			j := i
			for j < len(src) && strings.IndexByte("+-.0123456789Eabcdefghijklmnopqrstuvwxyz", src[j]) >= 0 {
				j++
			}
			code := ansiYellow
			if c >= 'a' && c <= 'z' {
				code = ansiBlue // true, false, null
			}
			b.WriteString(code)
			b.Write(src[i:j])
			b.WriteString(ansiReset)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.Bytes()
}

// useColor reports whether w is a terminal that colours should go to: an
// *os.File that is a character device, with NO_COLOR unset and TERM not
// "dumb".
func useColor(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
