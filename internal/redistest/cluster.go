package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a private Redis Cluster of three masters without replicas, on
// loopback ports, stopped at the test's cleanup.
type Cluster struct {
	nodes []*proc
}

// StartCluster runs three cluster-enabled redis-servers, joins them with
// redis-cli --cluster create and waits until every node reports the
// cluster ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli is not installed (Debian: apt-get install redis-tools): %v", err)
	}
	dir := t.TempDir()
	c := &Cluster{}
	for range 3 {
		// cluster-port frees the bus from the default of port+10000, which
		// may be taken or past 65535.
		c.nodes = append(c.nodes, launch(t, dir, "node", 2, func(ports []int, log string) []string {
			port := strconv.Itoa(ports[0])
			return []string{"--port", port, "--cluster-port", strconv.Itoa(ports[1]), "--bind", "127.0.0.1",
				"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
				"--cluster-node-timeout", "1000",
				"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", log}
		}))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.nodes {
		waitFor(t, 10*time.Second, "cluster_state:ok on "+n.addr, func(ctx context.Context) (bool, string) {
			rdb := client(n.addr)
			defer rdb.Close()
			info, err := rdb.ClusterInfo(ctx).Result()
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(info, "cluster_state:ok"), info
		})
	}
	return c
}

// Addrs are the masters' host:port addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr
	}
	return addrs
}

// URL is the cluster in go-redis's cluster URL form: the first node in the
// authority, the others as addr parameters.
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	return fmt.Sprintf("redis://%s?addr=%s", addrs[0], strings.Join(addrs[1:], "&addr="))
}
