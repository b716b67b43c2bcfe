// Package redistest gives tests a real Redis over a real connection: the one
// REDIS_URL names, else the one at 127.0.0.1:6379, else a redis-server it
// starts on a free loopback port. Tests sharing a server each get their own
// key prefix and never flush a database. For fault tests, Start runs a
// private server that a test may kill and restart; StartCluster and
// StartSentinel run a private Redis Cluster and a Sentinel-managed pair.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shared returns the URL of a Redis that tests may share, and a key prefix
// of the test's own.
func Shared(t testing.TB) (url, prefix string) {
	t.Helper()
	return sharedURL(t), Prefix(t)
}

// Prefix returns a fresh key prefix, so a test's keys never meet another's.
func Prefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

var shared struct {
	once sync.Once
	url  string
	err  error
	srv  *Server
}

func sharedURL(t testing.TB) string {
	shared.once.Do(func() {
		if u := os.Getenv("REDIS_URL"); u != "" {
			shared.url = u
			return
		}
		if ping("redis://127.0.0.1:6379/0") == nil {
			shared.url = "redis://127.0.0.1:6379/0"
			return
		}
		// Nothing running: start one that lives as long as the test binary.
		shared.srv, shared.err = start(os.TempDir())
		if shared.err == nil {
			shared.url = shared.srv.URL()
		}
	})
	if shared.err != nil {
		t.Fatalf("no Redis for tests: REDIS_URL is unset, nothing answers at 127.0.0.1:6379, and starting redis-server failed: %v", shared.err)
	}
	return shared.url
}

func ping(url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	opt.DialTimeout = 500 * time.Millisecond
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Server is a private redis-server process on a loopback port.
type Server struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

// Start runs a private redis-server for the test and stops it at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

func start(dir string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Server{port: port, dir: dir}
	return s, s.Restart()
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Kill stops the server at once, as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty, and waits until
// it answers.
func (s *Server) Restart() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server is not installed (Debian: apt-get install redis-server): %w", err)
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis-"+strconv.Itoa(s.port)+".log"))
	// The server must not outlive the test binary that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := ping(s.URL()); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server on port %d did not answer: %w", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
