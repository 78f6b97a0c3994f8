package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// receiverStartTimeout bounds how long the receiver process may take to
// print its address.
const receiverStartTimeout = 15 * time.Second

// receiverProc is the receiver process and a client for its control routes.
type receiverProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	hc    *http.Client
	done  chan struct{}
}

// startReceiver runs argv (with env added to the bench's environment) and
// reads the receiver's URL from the first line it prints.
func startReceiver(ctx context.Context, argv, env []string, stderr io.Writer) (*receiverProc, error) {
	if len(argv) == 0 {
		return nil, errors.New("start receiver: no command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start receiver: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start receiver: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start receiver %s: %w", argv[0], err)
	}
	p := &receiverProc{cmd: cmd, stdin: stdin, done: make(chan struct{}),
		hc: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r)
	}()
	t := time.NewTimer(receiverStartTimeout)
	defer t.Stop()
	select {
	case line := <-lines:
		if !strings.HasPrefix(line, "http://127.0.0.1:") {
			p.Close()
			return nil, fmt.Errorf("start receiver: it printed %q, want its http://127.0.0.1:PORT address", line)
		}
		p.url = line
		return p, nil
	case <-t.C:
		p.Close()
		return nil, fmt.Errorf("start receiver: no address after %s", receiverStartTimeout)
	case <-ctx.Done():
		p.Close()
		return nil, fmt.Errorf("start receiver: %w", ctx.Err())
	}
}

// Close ends the receiver process: its stdin is closed (it exits on that)
// and it is killed if it has not gone within 3 seconds.
func (p *receiverProc) Close() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
		return
	case <-time.After(3 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// ended reports whether the receiver process has ended, and how.
func (p *receiverProc) ended() (string, bool) {
	if p.done == nil {
		return "", false
	}
	select {
	case <-p.done:
		return p.cmd.ProcessState.String(), true
	default:
		return "", false
	}
}

// get fetches a control route.
func (p *receiverProc) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return nil, fmt.Errorf("receiver %s: %w", path, err)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		if state, ended := p.ended(); ended {
			return nil, fmt.Errorf("receiver %s: the receiver process has ended (%s; was it signalled from outside the bench?): %w", path, state, err)
		}
		return nil, fmt.Errorf("receiver %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("receiver %s: read answer: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("receiver %s: status %d", path, resp.StatusCode)
	}
	return b, nil
}

// stats returns the receiver's counts.
func (p *receiverProc) stats(ctx context.Context) (receiverStats, error) {
	b, err := p.get(ctx, pathStats)
	if err != nil {
		return receiverStats{}, err
	}
	var st receiverStats
	if err := json.Unmarshal(b, &st); err != nil {
		return receiverStats{}, fmt.Errorf("receiver stats: %w", err)
	}
	return st, nil
}

// okCount is the number of /ok/ requests received under tag.
func (p *receiverProc) okCount(ctx context.Context, tag string) (int64, error) {
	st, err := p.stats(ctx)
	if err != nil {
		return 0, err
	}
	return st.OK[tag], nil
}

// drain returns the records kept since the last drain.
func (p *receiverProc) drain(ctx context.Context) ([]record, error) {
	b, err := p.get(ctx, pathDrain)
	if err != nil {
		return nil, err
	}
	var out []record
	err = parseRecords(b, func(r record) { out = append(out, r) })
	return out, err
}

// discard forgets the records kept since the last drain.
func (p *receiverProc) discard(ctx context.Context) error {
	_, err := p.get(ctx, pathDrain+"?discard=1")
	return err
}
