package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/bench"
	"github.com/heraldhq/herald/internal/brokertest"
)

// The hidden subcommands `herald bench` runs as its receiver process and
// as its load generator processes.
const (
	benchReceiverCommand = "bench-receiver"
	benchLoadGenCommand  = "bench-loadgen"
)

// benchCommands are `herald bench` and its hidden helpers.
func benchCommands() []*cobra.Command {
	return []*cobra.Command{newBench(), newBenchReceiver(), newBenchLoadGen()}
}

func newBench() *cobra.Command {
	var (
		cfg        bench.Config
		jsonPath   string
		cpuProfile string
		heraldLog  string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Herald end to end against the performance targets",
		Long: `Measure Herald end to end (SPEC section 7). A receiver runs as a separate process on 127.0.0.1 and
Herald runs in this process, on SQLite in a temporary directory, or on PostgreSQL with --database-url
(an empty database of its own: the bench refuses one that holds tenants or webhooks, and leaves its
data there). With --target the bench uses a running Herald on this machine instead: give it an admin
key (--api-key), and start it with --dev (or --allow-http and --allow-private-targets); the bench works
in a tenant of its own, but use a Herald dedicated to it. Backlog's memory is then not measured.

Scenarios, in this order:
  ceiling            POST the sample straight to the receiver with webhooks x 16 keep-alive
                     connections: the baseline of every ratio
  throughput         --events events, each to --webhooks webhooks, published in batches of 500:
                     notifications/s until every one is received and recorded DELIVERED
  throughput-single  the same with --events/4 events, one per POST /events from 16 concurrent
                     publishers
  publish            --events single-event POST /events from 64 keep-alive connections, first
                     with no subscriber, then to one healthy subscriber: events/s and Herald's
                     CPU time per publish (its rusage)
  latency            POST /events one at a time at --rate events/s for --duration to one webhook:
                     p50/p90/p99/max to receipt from the publish request and from its
                     acknowledgement
  isolation          --webhooks webhooks (at least 3) each getting every event, at
                     --rate/webhooks events/s for --duration: first all healthy, then with 10%
                     hanging past a 1s timeout and 10% answering 500; the healthy p99 over the
                     all-healthy p99
  fanout             a second tenant publishes one event per POST /events at 100/s while this
                     one sends a POST /events:batch of 1,000 events to 100 webhooks (100,000
                     notifications, the default --max-fanout): the other tenant's publish
                     p50/p99 until every notification is written, the batch's answer time and
                     the time until its notifications exist (deliveries not awaited)
  backlog            --backlog notifications queued for disabled webhooks, then enabled: peak RSS
                     and drain rate
  ingest             --events events in batches of 1000 to one disabled subscriber: events/s
  source             --events messages in a RabbitMQ queue and in a NATS JetStream stream of
                     their own (--rabbitmq-url, --nats-url), each then registered as a source
                     with one healthy subscriber: events/s until all are committed, beside the
                     single-event POST /events rate of publish (or of a load measured first)
  replicas           PostgreSQL only: throughput's load published through 3 in-process replicas on
                     the same database in turn: notifications/s against throughput's, and duplicates
  scale              --webhooks busy webhooks among --scale-webhooks registered over 100 tenants
                     (of the others a third idle, a third answering 500 with open circuits, a
                     third disabled): throughput as in throughput, against it; then the idle
                     Herald's CPU over 10s

The unpaced loads of one event per request (throughput-single, publish) come from a load generator
process of their own, so that the rusage of this process measures Herald alone; the paced ones
(latency, isolation, fanout) are sent from this process. On PostgreSQL the bench also reports the server's
CPU time per delivered notification (the postgres processes of this machine, backends of other
databases left out), and runs ANALYZE after loading data (backlog, scale), as autovacuum would.

Progress goes to stderr, a line per second; the table goes to stdout, and with --json the same to a
file with the machine's description. Every wait gives up when nothing has moved for a minute.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the herald binary for the receiver: %w", err)
			}
			cfg.ReceiverCommand = []string{exe, benchReceiverCommand}
			cfg.LoadGenCommand = []string{exe, benchLoadGenCommand}
			cfg.Progress = cmd.ErrOrStderr()
			cfg.Scenarios = splitScenarios(cfg.Scenarios)
			if heraldLog != "" {
				f, err := os.Create(heraldLog)
				if err != nil {
					return fmt.Errorf("--herald-log: %w", err)
				}
				defer f.Close()
				cfg.HeraldLog = f
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			report, runErr := bench.Run(ctx, cfg)
			if report == nil {
				return runErr
			}
			if err := report.WriteTable(cmd.OutOrStdout()); err != nil {
				return err
			}
			if jsonPath != "" {
				if err := report.WriteJSON(jsonPath); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if failed := report.Failed(); len(failed) > 0 {
				return fmt.Errorf("%d scenario(s) failed: %s", len(failed), strings.Join(failed, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Scenarios, "scenarios", bench.Scenarios, "scenarios to run, comma-separated")
	f.IntVar(&cfg.Events, "events", 200000, "events published by throughput, replicas, publish, ingest and scale (throughput-single: a quarter)")
	f.IntVar(&cfg.Webhooks, "webhooks", 10, "webhooks each event fans out to (throughput, isolation, backlog)")
	f.Float64Var(&cfg.Rate, "rate", 1000, "steady notifications per second of latency and isolation")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long latency and each isolation phase publish")
	f.IntVar(&cfg.Backlog, "backlog", 1000000, "notifications backlog queues before draining them")
	f.IntVar(&cfg.ScaleWebhooks, "scale-webhooks", 10000, "webhooks scale registers in all, the busy ones included")
	f.StringVar(&cfg.RabbitMQURL, "rabbitmq-url", brokertest.RabbitMQURL, "RabbitMQ of the source scenario")
	f.StringVar(&cfg.NATSURL, "nats-url", brokertest.NATSURL, "NATS JetStream of the source scenario")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "run the in-process Herald on this PostgreSQL database (an empty one; default: SQLite in a temporary directory)")
	f.StringVar(&cfg.Target, "target", "", "benchmark the Herald running at this URL (http://host:port) instead of one in-process")
	f.StringVar(&cfg.APIKey, "api-key", "", "admin API key of the --target Herald")
	f.StringVar(&cfg.Backend, "backend", "", "backend of the --target Herald, for the targets: sqlite or postgres (default sqlite)")
	f.StringVar(&jsonPath, "json", "", "also write the results as JSON to this file")
	f.DurationVar(&cfg.StallTimeout, "stall-timeout", time.Minute, "fail a scenario whose progress has stopped this long")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process (in-process Herald included) to this file")
	f.StringVar(&heraldLog, "herald-log", "", "write the in-process Herald's logs to this file")
	for _, hidden := range []string{"stall-timeout", "cpuprofile", "herald-log"} {
		_ = f.MarkHidden(hidden)
	}
	addEnvToUsage(cmd)
	return cmd
}

// splitScenarios trims the names and drops empty ones.
func splitScenarios(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func newBenchReceiver() *cobra.Command {
	return &cobra.Command{
		Use:    benchReceiverCommand,
		Short:  "The receiver process of herald bench",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			err := bench.RunReceiver(ctx, os.Stdin, cmd.OutOrStdout())
			if ctx.Err() != nil {
				// The bench ends it through stdin; a signal came from elsewhere.
				fmt.Fprintln(cmd.ErrOrStderr(), "bench-receiver: stopped by a signal")
			}
			if errors.Is(err, ctx.Err()) {
				return nil
			}
			return err
		},
	}
}

func newBenchLoadGen() *cobra.Command {
	return &cobra.Command{
		Use:    benchLoadGenCommand,
		Short:  "A load generator process of herald bench",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return bench.RunLoadGen(ctx, os.Stdin, cmd.OutOrStdout())
		},
	}
}
