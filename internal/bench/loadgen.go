package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadJob is a closed-loop HTTP load: Requests POSTs of Body to URL from
// Connections keep-alive connections, each sending its next request when
// the previous answer has arrived. The ceiling runs it in the bench
// process; the scenarios that publish one event per request run it in a
// load generator process of its own (RunLoadGen), so that Herald's CPU
// time, read from the bench process's rusage, holds no client work.
type loadJob struct {
	URL         string            `json:"url"`
	Headers     map[string]string `json:"headers,omitempty"`
	Body        []byte            `json:"body"`
	Connections int               `json:"connections"`
	Requests    int64             `json:"requests"`
	// WantStatus is the status of a successful answer.
	WantStatus int `json:"want_status"`
	// IDHeader, when set, names a header given a distinct "msg_<n>" value
	// per request (the ceiling's Webhook-Id).
	IDHeader string `json:"id_header,omitempty"`
	// MaxFailures stops the load once more requests than this have failed.
	MaxFailures int64 `json:"max_failures"`
}

// loadResult is what a load measured.
type loadResult struct {
	OK     int64 `json:"ok"`
	Failed int64 `json:"failed"`
	// Seconds runs from the first request sent to the last answer read.
	Seconds float64 `json:"seconds"`
	// FirstError describes the first failed request.
	FirstError string `json:"first_error,omitempty"`
	// P50Ms and P99Ms are the request round trips' percentiles.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// rate is the successful requests per second.
func (r loadResult) rate() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.OK) / r.Seconds
}

// runLoad runs job, adding every answered request to done.
func runLoad(ctx context.Context, job loadJob, done *atomic.Int64) loadResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conns := max(1, job.Connections)
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	var next, ok, failed atomic.Int64
	var firstErr sync.Once
	var res loadResult
	fail := func(msg string) {
		firstErr.Do(func() { res.FirstError = msg })
		if failed.Add(1) > job.MaxFailures {
			cancel()
		}
	}
	lats := make([][]time.Duration, conns)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= job.Requests && ctx.Err() == nil; i = next.Add(1) {
				t0 := time.Now()
				status, err := postOnce(ctx, hc, job, i)
				done.Add(1)
				switch {
				case err != nil:
					if ctx.Err() == nil {
						fail(err.Error())
					}
				case status != job.WantStatus:
					fail(fmt.Sprintf("POST %s: status %d, want %d", job.URL, status, job.WantStatus))
				default:
					ok.Add(1)
					lats[w] = append(lats[w], time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.OK, res.Failed = ok.Load(), failed.Load()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	st := summarize(all)
	res.P50Ms, res.P99Ms = ms(st.P50), ms(st.P99)
	return res
}

// postOnce sends request number i of job and reads its answer through.
func postOnce(ctx context.Context, hc *http.Client, job loadJob, i int64) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(job.Body))
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", job.URL, err)
	}
	for k, v := range job.Headers {
		req.Header.Set(k, v)
	}
	if job.IDHeader != "" {
		req.Header.Set(job.IDHeader, "msg_"+strconv.FormatInt(i, 10))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("POST %s: read answer: %w", job.URL, err)
	}
	return resp.StatusCode, nil
}

// Lines the load generator prints on stdout.
const (
	loadgenDone   = "done "
	loadgenResult = "result "
)

// loadgenProgressEvery is how often the load generator prints its count.
const loadgenProgressEvery = 250 * time.Millisecond

// RunLoadGen is the load generator process, run by `herald
// bench-loadgen`: it reads one JSON loadJob line from stdin, runs it,
// prints "done <n>" lines while it runs and a final "result <json>" line,
// and exits. It stops early when stdin reaches its end (the bench holds
// stdin open, so the load generator never outlives it).
func RunLoadGen(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := bufio.NewReader(stdin)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("load generator: read job: %w", err)
	}
	var job loadJob
	if err := json.Unmarshal(line, &job); err != nil {
		return fmt.Errorf("load generator: decode job: %w", err)
	}
	go func() {
		_, _ = io.Copy(io.Discard, r)
		cancel()
	}()
	var done atomic.Int64
	var mu sync.Mutex
	quit := make(chan struct{})
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		t := time.NewTicker(loadgenProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				mu.Lock()
				fmt.Fprintf(stdout, "%s%d\n", loadgenDone, done.Load())
				mu.Unlock()
			}
		}
	}()
	res := runLoad(ctx, job, &done)
	close(quit)
	<-printed
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("load generator: %w", err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("load generator: encode result: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s%s\n", loadgenResult, b); err != nil {
		return fmt.Errorf("load generator: print result: %w", err)
	}
	return nil
}

// loadRun is a load run by a load generator process: its result and the
// process's CPU time (user and system, from its rusage).
type loadRun struct {
	loadResult
	cpu time.Duration
}

// runLoadProc runs job in a load generator process, adding its progress
// to done.
func (b *bench) runLoadProc(ctx context.Context, job loadJob, done *atomic.Int64) (loadRun, error) {
	argv := b.cfg.LoadGenCommand
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), b.cfg.LoadGenEnv...)
	cmd.Stderr = b.cfg.Progress
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return loadRun{}, fmt.Errorf("start load generator: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return loadRun{}, fmt.Errorf("start load generator: %w", err)
	}
	jobLine, err := json.Marshal(job)
	if err != nil {
		return loadRun{}, fmt.Errorf("encode load job: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return loadRun{}, fmt.Errorf("start load generator %s: %w", argv[0], err)
	}
	// Closing stdin ends the load generator early (ctx ended) or lets it
	// exit (it has printed its result).
	stopped := context.AfterFunc(ctx, func() { _ = stdin.Close() })
	defer stopped()
	var run loadRun
	var got bool
	_, readErr := stdin.Write(append(jobLine, '\n'))
	if readErr != nil {
		readErr = fmt.Errorf("send load job: %w", readErr)
	} else {
		got, readErr = readLoadOutput(stdout, done, &run.loadResult)
	}
	_ = stdin.Close()
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	if cmd.ProcessState != nil {
		run.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	switch {
	case ctx.Err() != nil:
		return run, ctx.Err()
	case readErr != nil:
		return run, readErr
	case !got:
		return run, fmt.Errorf("load generator printed no result (exit: %v)", waitErr)
	}
	return run, nil
}

// readLoadOutput reads the load generator's lines until its result.
func readLoadOutput(stdout io.Reader, done *atomic.Int64, res *loadResult) (bool, error) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, loadgenDone):
			if n, err := strconv.ParseInt(line[len(loadgenDone):], 10, 64); err == nil {
				done.Store(n)
			}
		case strings.HasPrefix(line, loadgenResult):
			if err := json.Unmarshal([]byte(line[len(loadgenResult):]), res); err != nil {
				return false, fmt.Errorf("decode load generator result: %w", err)
			}
			done.Store(res.OK + res.Failed)
			return true, nil
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		return false, fmt.Errorf("read load generator output: %w", err)
	}
	return false, nil
}
