package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/signature"
)

// demoOptions are the flags of herald demo.
type demoOptions struct {
	addr       string        // Herald's API and dashboard
	listenAddr string        // the receiver
	exitAfter  bool          // stop once every sample is delivered
	timeout    time.Duration // how long to wait for the deliveries
	bodies     bool          // print every body, not only the summary lines
}

// newDemo is herald demo: Herald, a receiver and every sample in one process.
func newDemo() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Herald, a local receiver and every sample event in one process, for a first look",
		Long: `Start Herald on a temporary SQLite database, start a local receiver (the one of herald listen,
verifying signatures) on a free port, register a webhook for "*" pointing at it, publish every sample of
the event catalogue (every event and variant, as herald trigger --all), and show each delivery as it
arrives. Then print a summary, where the dashboard is and the admin key, and keep running until Ctrl-C so
that the dashboard and the API can be explored. The temporary directory is removed on exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address of Herald's API and dashboard (127.0.0.1:0: any free port)")
	f.StringVar(&o.listenAddr, "listen-addr", "127.0.0.1:0", "address of the local receiver (127.0.0.1:0: any free port)")
	f.BoolVar(&o.exitAfter, "exit-after-delivery", false, "stop once every sample is delivered (failing if they are not within --timeout)")
	f.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for every sample to be delivered")
	f.BoolVar(&o.bodies, "bodies", false, "print every delivered body as indented JSON, as herald listen does")
	// HERALD_DEMO_*: the demo must not pick up a real server's HERALD_ADDR
	// (or any other of its settings) from the same shell.
	addEnv(cmd, envPrefix+"DEMO_")
	return cmd
}

// demoSample is one catalogue sample to publish.
type demoSample struct {
	label   string // EVENT or EVENT VARIANT
	payload json.RawMessage
}

// catalogueSamples lists the sample of every event type without variants
// and of every variant, in catalogue order (what herald trigger --all
// publishes).
func catalogueSamples(cat *catalog.Catalog) []demoSample {
	var out []demoSample
	for _, t := range cat.Types() {
		if len(t.Variants) == 0 {
			out = append(out, demoSample{t.Name, t.Sample})
		}
		for _, v := range t.Variants {
			out = append(out, demoSample{t.Name + " " + v.Name, v.Sample})
		}
	}
	return out
}

func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) (err error) {
	out := &lockedWriter{w: stdout}
	cat, err := catalog.New()
	if err != nil {
		return err
	}
	samples := catalogueSamples(cat)

	dir, err := os.MkdirTemp("", "herald-demo-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	svc, err := service.Start(ctx, service.Config{
		Addr: o.addr, DataDir: dir, AllowHTTP: true, AllowPrivateTargets: true,
		ShutdownGrace: 2 * time.Second, Version: Version, Out: io.Discard,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return fmt.Errorf("start herald: %w (--addr 127.0.0.1:0 picks a free port)", err)
	}
	defer func() { err = errors.Join(err, svc.Close()) }()
	key, err := os.ReadFile(filepath.Join(dir, service.AdminKeyFile))
	if err != nil {
		return err
	}
	base := "http://" + svc.Addr()
	c := client{url: base, key: strings.TrimSpace(string(key)), http: &http.Client{Timeout: 30 * time.Second}}

	ln, err := net.Listen("tcp", o.listenAddr)
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	defer ln.Close()
	receiverURL := "http://" + ln.Addr().String() + "/"
	hookID, secret, err := c.registerWebhook(receiverURL)
	if err != nil {
		return err
	}

	// The receiver is herald listen's handler, verifying with the secret,
	// behind a tally of what it accepted.
	var printed io.Writer = out
	if !o.bodies {
		printed = summaryLines{out}
	}
	tally := newDemoTally(len(samples))
	srv := &http.Server{
		Handler:           tally.wrap(newListenHandler(printed, listenOptions{secrets: []string{secret}, color: useColor(stdout)})),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()

	fmt.Fprintf(out, `Herald demo %s
  API        %s  (temporary data in %s, removed on exit)
  dashboard  %s/ui
  admin key  %s
  receiver   %s  (herald listen, verifying signatures)
  webhook    %s  for every event ("*")

Publishing %d samples (every event and variant of the catalogue); deliveries as they arrive:
`, Version, base, dir, base, c.key, receiverURL, hookID, len(samples))
	for _, s := range samples {
		status, answer, err := c.post("/events", s.payload)
		if err != nil {
			return err
		}
		if status != http.StatusAccepted {
			return fmt.Errorf("publish %s: %d %s", s.label, status, bytes.TrimSpace(answer))
		}
	}

	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
	select {
	case <-tally.done:
	case <-timer.C:
	case <-ctx.Done():
		return nil
	}
	delivered := c.waitDelivered(ctx, hookID, len(samples), 5*time.Second)
	fmt.Fprintf(out, `
%d delivered of %d (%d verified by the receiver).
Dashboard: %s/ui  (sign in with the admin key)
Admin key: %s
Try:       curl -s -X POST %s/webhooks:search -H "apikey: %s" -d '{"limit": 3}'
`, delivered, len(samples), tally.verified(), base, c.key, base, c.key)
	if o.exitAfter {
		if delivered != len(samples) {
			return fmt.Errorf("%d of %d samples were delivered within %s", delivered, len(samples), o.timeout)
		}
		return nil
	}
	fmt.Fprintln(out, "Ctrl-C stops the demo and removes its data.")
	<-ctx.Done()
	fmt.Fprintln(out, "herald demo stopped")
	return nil
}

// registerWebhook registers a webhook for every event at endpoint and
// returns its id and signing secret.
func (c *client) registerWebhook(endpoint string) (id, secret string, err error) {
	body, err := json.Marshal(map[string]any{"endpoint": endpoint, "events": []string{catalog.Wildcard}})
	if err != nil {
		return "", "", err
	}
	status, answer, err := c.post("/webhooks", body)
	if err != nil {
		return "", "", err
	}
	var hook struct{ ID, Secret string }
	if status != http.StatusCreated || json.Unmarshal(answer, &hook) != nil || hook.Secret == "" {
		return "", "", fmt.Errorf("register the webhook: %d %s", status, bytes.TrimSpace(answer))
	}
	return hook.ID, hook.Secret, nil
}

// waitDelivered asks Herald how many notifications of the webhook are
// DELIVERED until there are want of them or wait has passed (the receiver
// answers before Herald records the outcome).
func (c *client) waitDelivered(ctx context.Context, hookID string, want int, wait time.Duration) int {
	filter, _ := json.Marshal(map[string]any{"webhook_id": hookID, "status": "DELIVERED", "limit": 1000})
	deadline := time.Now().Add(wait)
	for {
		n := -1
		if status, answer, err := c.post("/webhooks:search", filter); err == nil && status == http.StatusOK {
			var found struct{ Data []json.RawMessage }
			if json.Unmarshal(answer, &found) == nil {
				n = len(found.Data)
			}
		}
		if n >= want || time.Now().After(deadline) || ctx.Err() != nil {
			return max(n, 0)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// demoTally counts the distinct notifications (webhook-id) the receiver
// accepted, which it does only once their signature is verified; done is
// closed when there are as many as expected.
type demoTally struct {
	mu       sync.Mutex
	accepted map[string]bool
	want     int
	done     chan struct{}
}

func newDemoTally(want int) *demoTally {
	return &demoTally{accepted: map[string]bool{}, want: want, done: make(chan struct{})}
}

// wrap counts the requests h accepts.
func (d *demoTally) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.status >= 300 {
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.accepted[r.Header.Get(signature.HeaderID)] = true
		if len(d.accepted) == d.want {
			close(d.done)
		}
	})
}

// verified is how many distinct notifications were accepted.
func (d *demoTally) verified() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.accepted)
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records code and passes it on.
func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// summaryLines passes on only the summary line of each request herald
// listen prints (one Write per request), and the line saying why a request
// was refused, which follows it indented; the body is left out.
type summaryLines struct{ w io.Writer }

// Write passes on the summary (and refusal) line of one printed request.
func (s summaryLines) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	keep := lines[0]
	if len(lines) > 1 && strings.HasPrefix(lines[1], "  ") {
		keep += lines[1]
	}
	if _, err := io.WriteString(s.w, keep); err != nil {
		return 0, err
	}
	return len(p), nil
}

// lockedWriter serialises writes from the receiver and the command.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p whole before any other write.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
