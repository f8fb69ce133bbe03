// Package redistest starts a real, private redis-server for a test: a fresh
// process on a free loopback port, stopped when the test ends. Tests that need
// Redis call Start; when redis-server is not installed the test fails with the
// command that installs it (it is never skipped).
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
}

// Start launches redis-server for t and returns its address. If
// BURST_TEST_REDIS is set, that server is used instead (and flushed).
func Start(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv("BURST_TEST_REDIS"); addr != "" {
		return &Server{Addr: addr}
	}
	s, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartMain is Start for TestMain: it returns the server and a stop function.
func StartMain() (*Server, func(), error) {
	if addr := os.Getenv("BURST_TEST_REDIS"); addr != "" {
		return &Server{Addr: addr}, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "burst-redis-")
	if err != nil {
		return nil, nil, err
	}
	s, err := start(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.Stop(); os.RemoveAll(dir) }, nil
}

func start(dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on PATH: install it with `apt-get install -y redis-server` (.ci/run does): %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("run %s: %w", bin, err)
		}
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
		ready := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			var tail []string
			for sc.Scan() {
				line := sc.Text()
				tail = append(tail, line)
				if strings.Contains(line, "Ready to accept connections") {
					ready <- nil
					for sc.Scan() {
					}
					return
				}
			}
			ready <- fmt.Errorf("redis-server exited: %s", strings.Join(tail, "\n"))
		}()
		select {
		case err := <-ready:
			if err == nil {
				return s, nil
			}
			lastErr = err
			_ = cmd.Wait()
		case <-time.After(10 * time.Second):
			s.Stop()
			lastErr = fmt.Errorf("redis-server on %s not ready after 10s", s.Addr)
		}
	}
	return nil, lastErr
}

// Stop kills the server.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Prefix returns a key prefix unique to the test, so tests can share a server.
func Prefix(t testing.TB) string {
	return "t" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + filepath.Base(strings.ReplaceAll(t.Name(), "/", "_"))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until addr accepts connections or ctx ends.
func WaitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
