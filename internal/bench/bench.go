// Package bench is `herald bench`: the end-to-end benchmark of SPEC
// section 7. It starts Herald in-process (or uses a running one), starts a
// receiver as a separate process, and measures the ceiling (the raw rate of
// POSTs straight to the receiver), end-to-end throughput with batches and
// with one event per request, single-event publishing and its CPU cost,
// latency at a steady rate, isolation from failing endpoints, another
// tenant's publish latency while a batch at the fan-out bound commits, a
// large backlog's memory and drain rate, batch ingest, and throughput and
// idle CPU among 10,000 registered webhooks, each beside its target. The loads
// of one event per request come from a load generator process of their
// own, so that the bench process's rusage measures Herald alone.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/brokertest"
	"github.com/heraldhq/herald/internal/catalog"
	"github.com/heraldhq/herald/internal/service"
)

// Scenario names, in the order they run.
const (
	ScenarioCeiling          = "ceiling"
	ScenarioThroughput       = "throughput"
	ScenarioThroughputSingle = "throughput-single"
	ScenarioPublish          = "publish"
	ScenarioLatency          = "latency"
	ScenarioIsolation        = "isolation"
	ScenarioFanout           = "fanout"
	ScenarioBacklog          = "backlog"
	ScenarioIngest           = "ingest"
	ScenarioSource           = "source"
	ScenarioReplicas         = "replicas"
	ScenarioScale            = "scale"
)

// Scenarios lists every scenario in running order. Replicas comes late, so
// that the dead rows of its run (as many notifications as throughput's)
// weigh on none of the single-replica figures but scale's. Scale comes last: its
// 10,000 webhooks and their failed notifications would weigh on the
// others' database. Fanout stops waiting once its 100,000 notifications
// are written, most of them still PENDING: the cleanup that follows every
// scenario deletes its webhooks, which cancels them, so backlog and scale
// find no queued work of it (their figures are the drain of their own
// queues), and its rows left behind are a twentieth of the 2,000,000
// notifications throughput leaves by default.
var Scenarios = []string{ScenarioCeiling, ScenarioThroughput, ScenarioThroughputSingle, ScenarioPublish,
	ScenarioLatency, ScenarioIsolation, ScenarioFanout, ScenarioBacklog, ScenarioIngest, ScenarioSource, ScenarioReplicas, ScenarioScale}

// Backends a Herald under test may run on.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// The load every scenario sends: the TRANSACTION PURCHASE sample.
const (
	eventName          = "TRANSACTION"
	eventVariant       = "PURCHASE"
	defaultMaxInFlight = 16
	// maxCeilingRequests bounds the ceiling scenario's requests.
	maxCeilingRequests = 200000
	// maxBatchEvents is the most events of one POST /events:batch.
	maxBatchEvents = 1000
)

// Config is what a bench run measures and against what.
type Config struct {
	// Scenarios to run (default: all); they run in the order of Scenarios.
	Scenarios []string
	// Events is the number of events of throughput, publish, ingest and
	// scale (throughput-single publishes a quarter of them).
	Events int
	// Webhooks is the fan-out of throughput, isolation and backlog.
	Webhooks int
	// Rate is the steady notification rate of latency and isolation
	// (notifications per second).
	Rate float64
	// Duration is how long latency and each isolation phase publish.
	Duration time.Duration
	// ScaleWebhooks is how many webhooks scale registers in all (default
	// 10,000, the busy ones included).
	ScaleWebhooks int
	// IdleWindow is how long scale measures the idle Herald's CPU
	// (default 10s).
	IdleWindow time.Duration
	// Backlog is the number of notifications backlog queues.
	Backlog int
	// Publishers is the number of concurrent batch publishers (default 4).
	Publishers int
	// FanoutWebhooks and FanoutEvents are the fanout scenario's webhooks and
	// the events of its one batch (default 100 and 1,000: 100,000
	// notifications, the default --max-fanout).
	FanoutWebhooks int
	FanoutEvents   int
	// RabbitMQURL and NATSURL are the brokers of the source scenario
	// (default: the machine's, as the tests use them).
	RabbitMQURL, NATSURL string

	// Target is the URL of a running Herald to benchmark (empty: start one
	// in-process); APIKey is an admin key of it.
	Target string
	APIKey string
	// DatabaseURL runs the in-process Herald on PostgreSQL (it should be an
	// empty database); empty means SQLite in a temporary directory.
	DatabaseURL string
	// Backend names the target's backend for the targets (with Target; by
	// default the in-process backend, or sqlite).
	Backend string
	// HeraldLog receives the in-process Herald's logs (default: discarded).
	HeraldLog io.Writer

	// ReceiverCommand runs the receiver process (for example the herald
	// binary with "bench-receiver"); ReceiverEnv is added to its
	// environment.
	ReceiverCommand []string
	ReceiverEnv     []string
	// LoadGenCommand runs a load generator process (the herald binary with
	// "bench-loadgen"); LoadGenEnv is added to its environment.
	LoadGenCommand []string
	LoadGenEnv     []string

	// Progress receives a progress line per second (default: discarded).
	Progress io.Writer
	// StallTimeout fails a scenario whose awaited count has not moved this
	// long (default 60s); ScenarioTimeout bounds a whole scenario (default
	// 30m).
	StallTimeout    time.Duration
	ScenarioTimeout time.Duration
}

// withDefaults fills the zero fields and checks the others.
func (c Config) withDefaults() (Config, error) {
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return c, fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Events, 200000)
	def(&c.Webhooks, 10)
	def(&c.Backlog, 1000000)
	def(&c.Publishers, 4)
	def(&c.ScaleWebhooks, 10000)
	def(&c.FanoutWebhooks, 100)
	def(&c.FanoutEvents, maxBatchEvents)
	if c.RabbitMQURL == "" {
		c.RabbitMQURL = brokertest.RabbitMQURL
	}
	if c.NATSURL == "" {
		c.NATSURL = brokertest.NATSURL
	}
	if c.IdleWindow == 0 {
		c.IdleWindow = 10 * time.Second
	}
	if c.Rate == 0 {
		c.Rate = 1000
	}
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = time.Minute
	}
	if c.ScenarioTimeout == 0 {
		c.ScenarioTimeout = 30 * time.Minute
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	c.Progress = &lockedWriter{w: c.Progress}
	switch {
	case c.Events < 1 || c.Webhooks < 1 || c.Backlog < 1 || c.Publishers < 1:
		return c, errors.New("--events, --webhooks, --backlog and publishers must be at least 1")
	case c.Rate <= 0 || c.Duration <= 0 || c.IdleWindow < 0:
		return c, errors.New("--rate and --duration must be positive")
	case c.FanoutWebhooks < 1 || c.FanoutEvents < 1 || c.FanoutEvents > maxBatchEvents:
		return c, fmt.Errorf("fanout: want at least 1 webhook and 1 to %d events (one POST /events:batch)", maxBatchEvents)
	case c.ScaleWebhooks < c.Webhooks+3:
		return c, fmt.Errorf("--scale-webhooks %d: want at least --webhooks + 3 (%d): the busy webhooks and one idle, one failing and one disabled", c.ScaleWebhooks, c.Webhooks+3)
	case c.Target != "" && c.DatabaseURL != "":
		return c, errors.New("--database-url is for the in-process Herald; with --target the running Herald has its own")
	case c.Target != "" && c.APIKey == "":
		return c, errors.New("--target needs --api-key (an admin key of that Herald)")
	case len(c.ReceiverCommand) == 0:
		return c, errors.New("no receiver command")
	case len(c.LoadGenCommand) == 0:
		return c, errors.New("no load generator command")
	}
	if c.Backend == "" {
		c.Backend = BackendSQLite
		if c.DatabaseURL != "" {
			c.Backend = BackendPostgres
		}
	}
	if c.Backend != BackendSQLite && c.Backend != BackendPostgres {
		return c, fmt.Errorf("backend %q: want %s or %s", c.Backend, BackendSQLite, BackendPostgres)
	}
	return c, nil
}

// bench is one run in progress.
type bench struct {
	cfg       Config
	api       *apiClient
	recv      *receiverProc
	cat       *catalog.Catalog
	sample    []byte
	inProcess bool
	// dataDir and adminKey are the in-process Herald's, which the replicas
	// scenario's other replicas share.
	dataDir, adminKey string
	// ceiling is the ceiling scenario's requests/s (0: not measured).
	ceiling float64
	// throughput is the throughput scenario's notifications/s (0: not
	// measured), the baseline of scale.
	throughput float64
	// publishRate is the publish scenario's events/s (0: not measured),
	// the baseline of source.
	publishRate float64
	// latencyP99 is the latency scenario's p99 from acknowledgement (0: not
	// measured).
	latencyP99 time.Duration
	// pg reads the PostgreSQL server's CPU and runs ANALYZE (nil on
	// SQLite, or when the server's processes are not visible).
	pg *pgMonitor
	// mu guards created, which are the current scenario's webhooks,
	// deleted after it.
	mu      sync.Mutex
	created []createdWebhook
}

// Run runs the configured scenarios and returns their report. A scenario
// that fails is reported with its reason and the next one runs; Run itself
// fails only when the bench cannot start, or when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cat, err := catalog.New()
	if err != nil {
		return nil, fmt.Errorf("load catalogue: %w", err)
	}
	sample, err := cat.Sample(eventName, eventVariant)
	if err != nil {
		return nil, fmt.Errorf("load sample: %w", err)
	}
	b := &bench{cfg: cfg, cat: cat, sample: sample, inProcess: cfg.Target == ""}
	report := &Report{Machine: machineInfo(), Settings: Settings{
		Scenarios: cfg.Scenarios, Events: cfg.Events, Webhooks: cfg.Webhooks, Rate: cfg.Rate,
		Duration: cfg.Duration.String(), Backlog: cfg.Backlog,
	}}
	report.Machine.Backend = cfg.Backend
	report.Machine.Herald = cfg.Target
	if b.inProcess {
		report.Machine.Herald = "in-process"
	}

	if cfg.Backend == BackendPostgres {
		if err := b.openPG(ctx); err != nil {
			return nil, err
		}
		defer b.pg.close(context.Background())
	}
	b.recv, err = startReceiver(ctx, cfg.ReceiverCommand, cfg.ReceiverEnv, cfg.Progress)
	if err != nil {
		return nil, err
	}
	defer b.recv.Close()
	b.logf("receiver process %d on %s", b.recv.cmd.Process.Pid, b.recv.url)
	cpuStart := b.sampleCPU(ctx)

	if b.inProcess {
		stop, err := b.startHerald(ctx)
		if err != nil {
			return nil, err
		}
		defer stop()
	} else {
		b.api = newAPIClient(cfg.Target, cfg.APIKey)
	}
	tenant := b.tenantName("")
	id, err := b.api.createTenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	b.api = b.api.forTenant(id)
	b.logf("Herald at %s, tenant %s", b.api.base, tenant)

	for _, name := range Scenarios {
		if !slices.Contains(cfg.Scenarios, name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		report.Scenarios = append(report.Scenarios, b.runScenario(ctx, name))
	}
	report.Machine.OtherCPUPct = otherCPUPct(cpuStart, b.sampleCPU(ctx))
	if ctx.Err() != nil {
		return report, fmt.Errorf("bench interrupted: %w", ctx.Err())
	}
	return report, nil
}

// openPG opens the PostgreSQL monitor: with --database-url it connects to
// the bench's database; with --target it counts every postgres process of
// this machine, if there are any to see.
func (b *bench) openPG(ctx context.Context) error {
	if b.cfg.DatabaseURL == "" && !pgProcessesVisible(ctx) {
		b.logf("no postgres process is visible on this machine: the PostgreSQL server's CPU is not measured")
		return nil
	}
	m, err := openPGMonitor(ctx, b.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	b.pg = m
	return nil
}

// tenantName is a fresh tenant name of this run.
func (b *bench) tenantName(suffix string) string {
	name := fmt.Sprintf("bench-%s-%s", time.Now().UTC().Format("20060102-150405"), randomHex(3))
	if suffix != "" {
		name += "-" + suffix
	}
	return name
}

// startHerald starts the in-process Herald and returns its stop function.
func (b *bench) startHerald(ctx context.Context) (func(), error) {
	dir, err := os.MkdirTemp("", "herald-bench-*")
	if err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	b.dataDir, b.adminKey = dir, "hk_bench_"+randomHex(16)
	svc, err := b.startService(ctx)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop := func() {
		if err := svc.Close(); err != nil {
			b.logf("stop herald: %v", err)
		}
		os.RemoveAll(dir)
	}
	b.api = newAPIClient("http://"+svc.Addr(), b.adminKey)
	if b.cfg.DatabaseURL != "" {
		empty, err := b.api.isEmpty(ctx)
		if err != nil {
			stop()
			return nil, fmt.Errorf("check the database is empty: %w", err)
		}
		if !empty {
			stop()
			return nil, errors.New("--database-url names a database that holds tenants or webhooks: the bench needs an empty database of its own")
		}
	}
	return stop, nil
}

// startService starts one in-process Herald on the bench's data directory
// and database: the bench's own, or on PostgreSQL another replica beside
// it (same admin key and encryption key).
func (b *bench) startService(ctx context.Context) (*service.Service, error) {
	logw := b.cfg.HeraldLog
	if logw == nil {
		logw = io.Discard
	}
	svc, err := service.Start(ctx, service.Config{
		Addr: "127.0.0.1:0", DataDir: b.dataDir, DatabaseURL: b.cfg.DatabaseURL, AdminKey: b.adminKey,
		AllowHTTP: true, AllowPrivateTargets: true, MaxWebhooksPerTenant: 0,
		ShutdownGrace: 2 * time.Second, Version: "bench",
		Logger: slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return nil, fmt.Errorf("start herald: %w", err)
	}
	return svc, nil
}

// runScenario runs one scenario within its timeout, then deletes its
// webhooks.
func (b *bench) runScenario(ctx context.Context, name string) ScenarioResult {
	sctx, cancel := context.WithTimeout(ctx, b.cfg.ScenarioTimeout)
	defer cancel()
	res := ScenarioResult{Name: name, Details: map[string]any{}}
	b.logf("%s: starting", name)
	start := time.Now()
	cpuStart := b.sampleCPU(ctx)
	var err error
	switch name {
	case ScenarioCeiling:
		err = b.runCeiling(sctx, &res)
	case ScenarioThroughput:
		err = b.runThroughput(sctx, &res)
	case ScenarioThroughputSingle:
		err = b.runThroughputSingle(sctx, &res)
	case ScenarioReplicas:
		err = b.runReplicas(sctx, &res)
	case ScenarioPublish:
		err = b.runPublish(sctx, &res)
	case ScenarioLatency:
		err = b.runLatency(sctx, &res)
	case ScenarioIsolation:
		err = b.runIsolation(sctx, &res)
	case ScenarioFanout:
		err = b.runFanout(sctx, &res)
	case ScenarioBacklog:
		err = b.runBacklog(sctx, &res)
	case ScenarioIngest:
		err = b.runIngest(sctx, &res)
	case ScenarioSource:
		err = b.runSource(sctx, &res)
	case ScenarioScale:
		err = b.runScale(sctx, &res)
	}
	res.Seconds = time.Since(start).Seconds()
	cpuShares(cpuStart, b.sampleCPU(ctx), res.Details)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("scenario timeout of %s: %w", b.cfg.ScenarioTimeout, err)
		}
		res.Error = err.Error()
		b.logf("%s: FAILED: %v", name, err)
	} else {
		b.logf("%s: done in %.1fs", name, res.Seconds)
	}
	b.cleanup(ctx)
	return res
}

// cleanup deletes the scenario's webhooks, so that the next scenario's
// events reach only its own (pending notifications are cancelled).
func (b *bench) cleanup(ctx context.Context) {
	b.mu.Lock()
	created := b.created
	b.created = nil
	b.mu.Unlock()
	if ctx.Err() != nil || len(created) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err := forEach(cctx, len(created), apiWorkers, func(ctx context.Context, i int) error {
		if err := created[i].api.deleteWebhook(ctx, created[i].id); err != nil {
			b.logf("cleanup: %v", err)
		}
		return nil
	})
	if err != nil {
		b.logf("cleanup: %v", err)
	}
	if err := b.recv.discard(cctx); err != nil {
		b.logf("cleanup: %v", err)
	}
}

// createWebhooks registers n webhooks of the bench's tenant at
// <receiver>/<kind>/<tag>/<i>.
func (b *bench) createWebhooks(ctx context.Context, n int, kind, tag string, spec webhookSpec) ([]string, error) {
	ids := make([]string, 0, n)
	for i := range n {
		spec.Endpoint = fmt.Sprintf("%s/%s/%s/%d", b.recv.url, kind, tag, i)
		id, err := b.createWebhook(ctx, b.api, spec)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// createWebhook registers one webhook through api (acting on its tenant)
// and remembers it for the cleanup.
func (b *bench) createWebhook(ctx context.Context, api *apiClient, spec webhookSpec) (string, error) {
	id, err := api.createWebhook(ctx, spec)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	b.created = append(b.created, createdWebhook{api: api, id: id})
	b.mu.Unlock()
	return id, nil
}

// createdWebhook is a webhook to delete after the scenario, with the
// client of its tenant.
type createdWebhook struct {
	api *apiClient
	id  string
}

// apiWorkers is how many API requests the bench's concurrent loops
// (registration, cleanup, circuit checks) keep in flight.
const apiWorkers = 16

// forEach calls fn for 0..n-1 from workers goroutines; the first error
// stops the others and is returned.
func forEach(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// logf prints one line of progress.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.Progress, "bench: "+format+"\n", args...)
}

// lockedWriter serialises the writes of the progress printers, the
// receiver's stderr and the scenarios.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}
