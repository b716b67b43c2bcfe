package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// proc is one redis-server (or sentinel) process a topology helper started.
type proc struct {
	addr   string
	log    string
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// launch starts a redis-server on n fresh loopback ports (the first is its
// client port) with the arguments args gives for them and its log file, and
// waits until it answers. A port found free may be taken by another process
// before the server binds it; that costs another try on other ports.
func launch(t testing.TB, dir, name string, n int, args func(ports []int, log string) []string) *proc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (Debian: apt-get install redis-server): %v", err)
	}
	const tries = 3
	for try := 1; ; try++ {
		ports := freePorts(t, n)
		addr := "127.0.0.1:" + strconv.Itoa(ports[0])
		log := filepath.Join(dir, name+"-"+strconv.Itoa(ports[0])+".log")
		cmd := exec.Command(bin, args(ports, log)...)
		// The server must not outlive the test binary that started it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		p := &proc{addr: addr, log: log, cmd: cmd, exited: make(chan struct{})}
		go func() {
			_ = cmd.Wait()
			close(p.exited)
		}()
		t.Cleanup(p.kill)

		deadline := time.Now().Add(5 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			rdb := client(addr)
			err := rdb.Ping(ctx).Err()
			_ = rdb.Close()
			cancel()
			if err == nil {
				return p
			}
			select {
			case <-p.exited:
			default:
				if time.Now().After(deadline) {
					t.Fatalf("%s on %s did not answer within 5s: %v; log:\n%s", name, addr, err, p.logTail())
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			tail := p.logTail()
			if try == tries || !strings.Contains(tail, "Address already in use") {
				t.Fatalf("%s on %s exited at start (try %d of %d); log:\n%s", name, addr, try, tries, tail)
			}
			break
		}
	}
}

// kill stops the process at once, as a crash would.
func (p *proc) kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

// logTail is the end of the process's log, for a failure message.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	lines = lines[max(0, len(lines)-15):]
	return string(bytes.Join(lines, []byte("\n")))
}

// freePorts returns n distinct free loopback ports. All are held until
// every one is found, so none is handed out twice; another process may
// still take one before the server binds it (see launch).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// client is a plain connection to one node, for the helpers' own checks.
func client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second,
		MaxRetries: -1, DialerRetries: 1,
	})
}

// infoField returns one field of an INFO section, "" when absent or on error.
func infoField(ctx context.Context, rdb *redis.Client, section, field string) string {
	s, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for line := range strings.Lines(s) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// waitFor polls cond every 20ms until it reports done or within passes,
// and then fails the test with what the last poll said.
func waitFor(t testing.TB, within time.Duration, what string, cond func(ctx context.Context) (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		done, state := cond(ctx)
		cancel()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last seen: %s", what, within, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
