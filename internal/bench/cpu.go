package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// selfCPU is this process's CPU time, user and system, from its rusage.
// With Herald in-process and the publishing load in a load generator
// process, its deltas are Herald's own CPU time (the bench's own polling
// included, which is small next to it).
func selfCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	tv := func(t syscall.Timeval) time.Duration {
		return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
	}
	return tv(ru.Utime) + tv(ru.Stime), true
}

// heraldCPU reads the in-process Herald's CPU time (ok false with
// --target: Herald is another process).
func (b *bench) heraldCPU() (time.Duration, bool) {
	if !b.inProcess {
		return 0, false
	}
	return selfCPU()
}

// pgMonitor reads the CPU time of the local PostgreSQL server's processes.
// It holds a connection to the bench's database (with --database-url) to
// run ANALYZE and to tell apart the backends of other databases on the
// same server, which it leaves out.
type pgMonitor struct {
	conn *pgx.Conn
	// selfPID is the backend of conn (left out too).
	selfPID int
}

// openPGMonitor connects to url; with an empty url (--target) every
// postgres process on this machine is counted and ANALYZE is not run.
func openPGMonitor(ctx context.Context, url string) (*pgMonitor, error) {
	m := &pgMonitor{}
	if url == "" {
		return m, nil
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL for ANALYZE and CPU readings: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&m.selfPID); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("read the bench's backend pid: %w", err)
	}
	m.conn = conn
	return m, nil
}

func (m *pgMonitor) close(ctx context.Context) {
	if m != nil && m.conn != nil {
		_ = m.conn.Close(ctx)
	}
}

// analyze refreshes the planner statistics after a load, as autovacuum
// would in production (the bench's server may run without it).
func (m *pgMonitor) analyze(ctx context.Context) (time.Duration, error) {
	if m == nil || m.conn == nil {
		return 0, nil
	}
	start := time.Now()
	if _, err := m.conn.Exec(ctx, "ANALYZE"); err != nil {
		return 0, fmt.Errorf("ANALYZE: %w", err)
	}
	return time.Since(start), nil
}

// pgSample is the CPU time of each counted postgres process, in ticks.
type pgSample struct {
	ticks map[int]int64
	// otherDB counts the backends of other databases left out.
	otherDB int
}

// sample reads /proc/<pid>/stat of every process whose comm is postgres.
func (m *pgMonitor) sample(ctx context.Context) (pgSample, error) {
	skip := map[int]bool{}
	if m.conn != nil {
		skip[m.selfPID] = true
		rows, err := m.conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname IS NOT NULL AND datname <> current_database()")
		if err != nil {
			return pgSample{}, fmt.Errorf("list other databases' backends: %w", err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return pgSample{}, fmt.Errorf("list other databases' backends: %w", err)
		}
		for _, p := range pids {
			skip[int(p)] = true
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return pgSample{}, fmt.Errorf("list processes: %w", err)
	}
	s := pgSample{ticks: map[int]int64{}}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if skip[pid] {
			s.otherDB++
			continue
		}
		if t, ok := processTicks(e.Name()); ok {
			s.ticks[pid] = t
		}
	}
	return s, nil
}

// pgWindow adds up the postgres processes' CPU time over the intervals
// between resume and pause (ANALYZE is left out that way).
type pgWindow struct {
	m       *pgMonitor
	last    pgSample
	running bool
	ticks   int64
	// exited counts the processes seen at a start that were gone at the
	// next reading (their last ticks are not counted).
	exited, otherDB int
	err             error
}

// startPG starts measuring the PostgreSQL server's CPU (nil on SQLite;
// a window that reports why when the server's processes cannot be seen).
func (b *bench) startPG(ctx context.Context) *pgWindow {
	if b.cfg.Backend != BackendPostgres {
		return nil
	}
	if b.pg == nil {
		return &pgWindow{err: errors.New("no postgres process is visible on this machine")}
	}
	w := &pgWindow{m: b.pg}
	w.resume(ctx)
	return w
}

func (w *pgWindow) resume(ctx context.Context) {
	if w == nil || w.running || w.err != nil {
		return
	}
	w.last, w.err = w.m.sample(ctx)
	w.running = w.err == nil
}

func (w *pgWindow) pause(ctx context.Context) {
	if w == nil || !w.running {
		return
	}
	w.running = false
	now, err := w.m.sample(ctx)
	if err != nil {
		w.err = err
		return
	}
	for pid, t := range now.ticks {
		w.ticks += t - w.last.ticks[pid]
	}
	for pid := range w.last.ticks {
		if _, ok := now.ticks[pid]; !ok {
			w.exited++
		}
	}
	w.otherDB = max(w.otherDB, now.otherDB)
}

// total pauses the window and returns the CPU time it measured (false:
// not measured).
func (w *pgWindow) total(ctx context.Context) (time.Duration, bool) {
	if w == nil {
		return 0, false
	}
	w.pause(ctx)
	return time.Duration(w.ticks) * clockTick, w.err == nil
}

// report pauses the window and adds the server's CPU time per delivered
// notification to res: as a figure beside its target when figure is set,
// as details otherwise.
func (w *pgWindow) report(ctx context.Context, res *ScenarioResult, delivered int64, figure bool) {
	if w == nil {
		return
	}
	w.pause(ctx)
	if w.err != nil {
		res.Notes = append(res.Notes, "PostgreSQL CPU not measured: "+w.err.Error())
		return
	}
	cpu := time.Duration(w.ticks) * clockTick
	res.Details["postgres_cpu_seconds"] = cpu.Seconds()
	if w.exited > 0 {
		res.Details["postgres_processes_exited"] = w.exited
		res.Notes = append(res.Notes, fmt.Sprintf("%d postgres processes ended during the measurement: their last CPU time is not counted", w.exited))
	}
	if w.otherDB > 0 {
		res.Details["postgres_other_db_backends"] = w.otherDB
	}
	if delivered <= 0 {
		return
	}
	per := float64(cpu.Microseconds()) / float64(delivered)
	res.Details["postgres_cpu_us_per_notification"] = per
	if figure {
		res.Figures = append(res.Figures, Figure{Name: "postgres CPU per notification", Value: per, Unit: "µs",
			Target: fmt.Sprintf("<= %d µs", PostgresCPUPerNotification/time.Microsecond),
			Met:    boolp(per <= float64(PostgresCPUPerNotification/time.Microsecond))})
	}
}

// pgProcessesVisible reports whether a postgres server runs on this
// machine where the bench can read its processes.
func pgProcessesVisible(ctx context.Context) bool {
	s, err := (&pgMonitor{}).sample(ctx)
	return err == nil && len(s.ticks) > 0
}

// sampleCPU reads the machine's CPU times, the PostgreSQL server's
// included where the bench can see it.
func (b *bench) sampleCPU(ctx context.Context) cpuSample {
	s := sampleCPU(b.recv.cmd.Process.Pid)
	if b.pg != nil {
		if ps, err := b.pg.sample(ctx); err == nil {
			for _, t := range ps.ticks {
				s.pg += t
			}
		}
	}
	return s
}
