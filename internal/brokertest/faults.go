package brokertest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// RabbitMQConnections lists the connections whose client properties
// contain match (such as a source id in Herald's connection names).
func RabbitMQConnections(match string) ([]string, error) {
	out, err := exec.Command("rabbitmqctl", "-s", "list_connections", "pid", "client_properties").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("rabbitmqctl list_connections: %v: %s", err, out)
	}
	var pids []string
	for _, line := range strings.Split(string(out), "\n") {
		if pid, props, ok := strings.Cut(line, "\t"); ok && strings.Contains(props, match) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// CloseRabbitMQConnection has RabbitMQ close a connection from the server
// side, as it does to every client when it restarts.
func CloseRabbitMQConnection(pid string) error {
	if out, err := exec.Command("rabbitmqctl", "-s", "close_connection", pid, "closed by a Herald test (as at a broker restart)").CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmqctl close_connection: %v: %s", err, out)
	}
	return nil
}

// NATSServer is a private nats-server with JetStream, on a port of its own,
// that a test may kill and start again without disturbing anyone else.
type NATSServer struct {
	URL  string
	addr string
	dir  string
	cmd  *exec.Cmd
}

// natsServerBinary is the server's path (Debian's package).
func natsServerBinary() (string, error) {
	for _, p := range []string{os.Getenv("HERALD_TEST_NATS_SERVER"), "/usr/sbin/nats-server"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return exec.LookPath("nats-server")
}

// StartNATSServer starts a nats-server on a free loopback port, keeping its
// JetStream store in dir.
func StartNATSServer(dir string) (*NATSServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &NATSServer{URL: "nats://" + addr, addr: addr, dir: dir}
	return s, s.Start()
}

// Start starts the server (again) on its port and store.
func (s *NATSServer) Start() error {
	bin, err := natsServerBinary()
	if err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	_, port, _ := net.SplitHostPort(s.addr)
	s.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", port, "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server: %w", err)
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
	}
	s.Kill()
	return errors.New("nats-server did not listen on " + s.addr + " within 15s")
}

// Kill ends the server with SIGKILL, as a crash would.
func (s *NATSServer) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}
