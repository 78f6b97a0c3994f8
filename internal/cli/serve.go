package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/policy"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/source"
)

// minAdminKey is the shortest admin key serve registers: it acts on every
// tenant, so it must not be guessable (generated ones are 46 characters).
const minAdminKey = 32

func newServe() *cobra.Command {
	var (
		cfg      service.Config
		schedule string
		dev      bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the API and the dispatcher",
		Long: `Run Herald's API and dispatcher. With no configuration it listens on 127.0.0.1:8080 and keeps an
embedded SQLite database in ./herald-data. On first start it prints an admin API key once and writes it
to <data>/admin.key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n := len(cfg.AdminKey); n > 0 && n < minAdminKey {
				return fmt.Errorf("--admin-key (%s) is %d characters; an admin key acts on every tenant and must be at least %d",
					envName("admin-key"), n, minAdminKey)
			}
			if dev {
				cfg.AllowHTTP, cfg.AllowPrivateTargets = true, true
			}
			s, err := policy.ParseSchedule(schedule)
			if err != nil {
				return err
			}
			cfg.RetrySchedule = s
			cfg.Version = Version
			cfg.Logger = newLogger(cmd.ErrOrStderr(), dev)
			cfg.Out = cmd.OutOrStdout()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			svc, err := service.Start(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Herald %s listening on http://%s (data in %s)\n", Version, svc.Addr(), cfg.DataDir)
			waitErr := svc.Wait(ctx)
			stop()
			if err := svc.Close(); err != nil {
				return err
			}
			return waitErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address the API listens on")
	f.StringVar(&cfg.DataDir, "data", "./herald-data", "directory of the embedded SQLite database and admin.key")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://...); several replicas may share it (default: embedded SQLite in --data)")
	f.StringVar(&cfg.AdminKey, "admin-key", "", "admin API key to register, at least 32 characters (default: generate one on first start)")
	f.StringVar(&schedule, "retry-schedule", formatSchedule(policy.DefaultSchedule), "waits before each retry, comma-separated Go durations")
	f.BoolVar(&cfg.AllowHTTP, "allow-http", false, "accept http:// endpoints (https only otherwise)")
	f.BoolVar(&cfg.AllowPrivateTargets, "allow-private-targets", false, "allow endpoints on loopback, private and link-local addresses")
	f.BoolVar(&dev, "dev", false, "development mode: --allow-http, --allow-private-targets and text logs")
	f.IntVar(&cfg.MaxWebhooksPerTenant, "max-webhooks-per-tenant", 1000, "most webhooks one tenant may register (0: no limit)")
	f.IntVar(&cfg.MaxConcurrency, "max-concurrency", delivery.DefaultMaxConcurrency, "most delivery attempts in flight at once in this process, shared fairly across webhooks")
	f.IntVar(&cfg.MaxFanout, "max-fanout", 100000, "most notifications one publish or replay request may create (over it: 413 fanout_too_large)")
	f.DurationVar(&cfg.SourceRefresh, "source-refresh", source.DefaultRefresh, "how often the broker sources are re-read, so that sources created, paused or deleted through another replica start or stop here too")
	f.DurationVar(&cfg.Lease, "lease", delivery.DefaultLease, "how long a claimed notification is reserved to one replica; a dead replica's work is taken over after it (raised to each webhook's timeout + 5s)")
	f.DurationVar(&cfg.DisableAfter, "disable-after", 5*24*time.Hour, "disable a webhook that fails without a single success for this long (0: never)")
	f.DurationVar(&cfg.Retention, "retention", service.DefaultRetention, "how long delivered and cancelled notifications and their attempts are kept; expired ones twice as long (0: forever)")
	f.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long in-flight deliveries may finish on SIGTERM")
	f.StringVar(&cfg.PublicURL, "public-url", "", "the URL users reach Herald at through a proxy; https://... makes the dashboard's cookies Secure")
	f.StringVar(&cfg.PortalOrigins, "portal-origins", "", "comma-separated origins allowed to frame the client portal (CSP frame-ancestors), such as https://platform.example; none: framing is denied")
	f.StringVar(&cfg.ProxyURL, "proxy-url", "", "HTTP CONNECT proxy for deliveries, pings and token requests: http://[user:password@]host:port (targets are still checked against the SSRF rules first)")
	addEnvToUsage(cmd)
	return cmd
}

func formatSchedule(s []time.Duration) string {
	out := ""
	for i, d := range s {
		if i > 0 {
			out += ","
		}
		out += d.String()
	}
	return out
}

// openContext is the context of one-shot commands.
func openContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
}
