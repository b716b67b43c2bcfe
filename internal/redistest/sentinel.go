package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinel helper's sentinels monitor.
const MasterName = "gqlcache"

// Sentinel timings, far below production values so that a failover test
// is quick: two of the sentinels (the quorum) judge a silent primary down
// after DownAfter, and a failover that stalls is abandoned after
// FailoverTimeout and retried after twice that.
const (
	DownAfter       = 500 * time.Millisecond
	FailoverTimeout = 3 * time.Second
)

// Sentinel is a private Sentinel-managed pair: a primary, one replica and
// three sentinels (quorum 2) on loopback ports, stopped at the test's
// cleanup.
type Sentinel struct {
	servers   map[string]*proc // primary and replica, by address
	sentinels []*proc
}

// StartSentinel runs a primary, a replica of it and three sentinels
// monitoring it, and waits until the replica is in sync and every sentinel
// knows the replica and the other sentinels, so that a failover can start as
// soon as the primary is down.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	dir := t.TempDir()
	s := &Sentinel{servers: map[string]*proc{}}
	primary := s.startServer(t, dir)
	_, primaryPort, _ := net.SplitHostPort(primary.addr)
	replica := s.startServer(t, dir, "--replicaof", "127.0.0.1", primaryPort)
	waitFor(t, 10*time.Second, "replica "+replica.addr+" in sync with "+primary.addr, func(ctx context.Context) (bool, string) {
		rdb := client(replica.addr)
		defer rdb.Close()
		st := infoField(ctx, rdb, "replication", "master_link_status")
		return st == "up", "master_link_status:" + st + "; log:\n" + replica.logTail()
	})

	for i := range 3 {
		// Sentinels that judge the primary down in the same instant each
		// vote for themselves, and such a split vote costs a retry after
		// twice the failover timeout (1 failover in 25 when all three
		// judged alike). The third one judges later, so it is still free
		// to vote for whichever of the others asks first.
		downAfter := DownAfter
		if i == 2 {
			downAfter = 4 * DownAfter
		}
		s.sentinels = append(s.sentinels, launch(t, dir, "sentinel", 1, func(ports []int, log string) []string {
			p := strconv.Itoa(ports[0])
			conf := filepath.Join(dir, "sentinel-"+p+".conf")
			// A sentinel rewrites its configuration file, so each has its own.
			text := fmt.Sprintf(`port %s
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s 127.0.0.1 %s 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 1
`, p, dir, log,
				MasterName, primaryPort,
				MasterName, downAfter.Milliseconds(),
				MasterName, FailoverTimeout.Milliseconds(),
				MasterName)
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{conf, "--sentinel"}
		}))
	}
	for _, sen := range s.sentinels {
		// Sentinels find each other through hello messages sent every 2s.
		waitFor(t, 10*time.Second, "sentinel "+sen.addr+" knows the replica and the other sentinels", func(ctx context.Context) (bool, string) {
			sc := sentinelClient(sen.addr)
			defer sc.Close()
			m, err := sc.Master(ctx, MasterName).Result()
			if err != nil {
				return false, err.Error() + "; log:\n" + sen.logTail()
			}
			ok := m["num-slaves"] == "1" && m["num-other-sentinels"] == strconv.Itoa(len(s.sentinels)-1) &&
				net.JoinHostPort(m["ip"], m["port"]) == primary.addr && !strings.Contains(m["flags"], "down")
			return ok, fmt.Sprintf("%v", m)
		})
	}
	return s
}

func (s *Sentinel) startServer(t testing.TB, dir string, extra ...string) *proc {
	t.Helper()
	p := launch(t, dir, "redis", 1, func(ports []int, log string) []string {
		// A full sync otherwise waits 5s for more replicas to share its stream.
		return append([]string{"--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1", "--repl-diskless-sync-delay", "0",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", log}, extra...)
	})
	s.servers[p.addr] = p
	return p
}

func sentinelClient(addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{
		Addr: addr, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second,
		MaxRetries: -1, DialerRetries: 1,
	})
}

// URL is the pair in go-redis's failover URL form: the first sentinel in
// the authority, the others as addr parameters, the master's name as
// master_name.
func (s *Sentinel) URL() string {
	u := fmt.Sprintf("redis://%s/0?master_name=%s", s.sentinels[0].addr, MasterName)
	for _, sen := range s.sentinels[1:] {
		u += "&addr=" + sen.addr
	}
	return u
}

// SentinelAddrs are the sentinels' host:port addresses.
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, sen := range s.sentinels {
		addrs[i] = sen.addr
	}
	return addrs
}

// PrimaryAddr is the primary's address as the first sentinel that answers
// names it.
func (s *Sentinel) PrimaryAddr(t testing.TB) string {
	t.Helper()
	var errs []string
	for _, sen := range s.sentinels {
		sc := sentinelClient(sen.addr)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		hp, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		cancel()
		_ = sc.Close()
		if err == nil && len(hp) == 2 {
			return net.JoinHostPort(hp[0], hp[1])
		}
		errs = append(errs, fmt.Sprintf("%s: %v %v", sen.addr, hp, err))
	}
	t.Fatalf("no sentinel names the primary: %s", strings.Join(errs, "; "))
	return ""
}

// Sync waits until every replica has applied all the primary has written,
// so that what a test stored before a failover survives it.
func (s *Sentinel) Sync(t testing.TB) {
	t.Helper()
	primary := s.PrimaryAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	p := client(primary)
	off := infoField(ctx, p, "replication", "master_repl_offset")
	_ = p.Close()
	cancel()
	want, err := strconv.ParseInt(off, 10, 64)
	if err != nil {
		t.Fatalf("primary %s: master_repl_offset %q: %v", primary, off, err)
	}
	for addr, pr := range s.servers {
		if addr == primary {
			continue
		}
		waitFor(t, 5*time.Second, "replica "+addr+" at the primary's offset "+off, func(ctx context.Context) (bool, string) {
			rdb := client(addr)
			defer rdb.Close()
			got := infoField(ctx, rdb, "replication", "slave_repl_offset")
			n, err := strconv.ParseInt(got, 10, 64)
			return err == nil && n >= want, "slave_repl_offset:" + got + "; log:\n" + pr.logTail()
		})
	}
}

// KillPrimary kills the current primary's process at once, as a crash
// would, and returns its address. The sentinels then promote the replica.
func (s *Sentinel) KillPrimary(t testing.TB) string {
	t.Helper()
	addr := s.PrimaryAddr(t)
	pr, ok := s.servers[addr]
	if !ok {
		t.Fatalf("the sentinels name %s as primary, which this helper did not start", addr)
	}
	pr.kill()
	return addr
}

// WaitFailover waits until every sentinel names the same primary, other
// than old, and that primary answers as a master; it returns its address.
func (s *Sentinel) WaitFailover(t testing.TB, old string, within time.Duration) string {
	t.Helper()
	var now string
	waitFor(t, within, "failover away from "+old, func(ctx context.Context) (bool, string) {
		named := map[string]bool{}
		for _, sen := range s.sentinels {
			sc := sentinelClient(sen.addr)
			hp, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
			_ = sc.Close()
			if err != nil || len(hp) != 2 {
				return false, fmt.Sprintf("sentinel %s: %v %v", sen.addr, hp, err)
			}
			now = net.JoinHostPort(hp[0], hp[1])
			named[now] = true
		}
		if len(named) != 1 || now == old {
			return false, fmt.Sprintf("sentinels name %v; logs:\n%s", named, s.LogTail())
		}
		rdb := client(now)
		defer rdb.Close()
		role := infoField(ctx, rdb, "replication", "role")
		return role == "master", now + " role:" + role
	})
	return now
}

// LogTail is the end of every sentinel's log, for a failure message.
func (s *Sentinel) LogTail() string {
	var b strings.Builder
	for _, sen := range s.sentinels {
		fmt.Fprintf(&b, "sentinel %s:\n%s\n", sen.addr, sen.logTail())
	}
	return b.String()
}
