package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"golang.org/x/sync/errgroup"
)

func TestFitMemory(t *testing.T) {
	const mib = 1 << 20
	limit := func(n uint64, err error) func() (uint64, error) {
		return func() (uint64, error) { return n, err }
	}
	for _, tc := range []struct {
		name                  string
		env                   []string
		limit                 func() (uint64, error)
		store, near, soft     int64
		limitFound, limitFail bool
	}{
		{"no limit: defaults, GC held to the store and half again", nil,
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 104 * mib, false, false},
		{"not in a cgroup", nil,
			limit(0, memlimit.ErrNoCgroup), 64 * mib, 16 * mib, 104 * mib, false, false},
		{"no limit, configured store", []string{"CACHE_MEMORY_BYTES", "16777216"},
			limit(0, memlimit.ErrNoLimit), 16 * mib, 16 * mib, 32 * mib, false, false},
		{"no limit, Redis: the near cache is the one in use", []string{"REDIS_URL", "redis://127.0.0.1:6379"},
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 32 * mib, false, false},
		{"no limit, Redis without a near cache", []string{"REDIS_URL", "redis://127.0.0.1:6379", "NEAR_CACHE_TTL", "0s"},
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 32 * mib, false, false},
		{"160 MiB container: a third, an eighth, the rest less 10%", nil,
			limit(160*mib, nil), 160 * mib / 3, 20 * mib, 136 * mib, true, false},
		{"64 MiB container: 24 MiB kept for the binary and the kernel", nil,
			limit(64*mib, nil), 64 * mib / 3, 8 * mib, 40 * mib, true, false},
		{"container, configured bounds win", []string{"CACHE_MEMORY_BYTES", "33554432", "NEAR_CACHE_BYTES", "1048576"},
			limit(160*mib, nil), 32 * mib, 1 * mib, 136 * mib, true, false},
		{"container, GOMEMLIMIT given: the runtime's limit is left alone", []string{"GOMEMLIMIT", "100MiB"},
			limit(1024*mib, nil), 1024 * mib / 3, 128 * mib, 0, true, false},
		{"GOMEMLIMIT=off is given too", []string{"GOMEMLIMIT", "off"},
			limit(0, memlimit.ErrNoLimit), 64 * mib, 16 * mib, 0, false, false},
		{"unreadable limit: as if none, reported", nil,
			limit(0, errors.New("permission denied")), 64 * mib, 16 * mib, 104 * mib, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := env(tc.env...)
			cfg, err := loadConfig(getenv)
			if err != nil {
				t.Fatal(err)
			}
			f := fitMemory(&cfg, getenv, tc.limit)
			if int64(cfg.memoryBytes) != tc.store || int64(cfg.nearBytes) != tc.near || f.softLimit != tc.soft {
				t.Errorf("got store %d, near cache %d, soft limit %d; want %d, %d, %d",
					cfg.memoryBytes, cfg.nearBytes, f.softLimit, tc.store, tc.near, tc.soft)
			}
			if cfg.memoryLimit != f.limit {
				t.Errorf("got the limit %d in the configuration (gqlcache_memory_limit_bytes); want %d as found", cfg.memoryLimit, f.limit)
			}
			if (f.limit > 0) != tc.limitFound || (f.limitErr != nil) != tc.limitFail {
				t.Errorf("got limit %d, error %v; want found %t, failed %t", f.limit, f.limitErr, tc.limitFound, tc.limitFail)
			}
		})
	}
}

// TestServiceFitsItsMemory runs the service binary as an operator would,
// floods it with distinct keys until its memory store has filled four
// times over, and checks its peak resident memory: without a container
// against its bound, and in a cgroup with a memory limit (and no cache
// settings) against the limit, where it must also still answer hits. The
// answers come from an HTTP origin, 100 bytes to 32 KiB long, so that a few
// seconds of traffic fill the store.
func TestServiceFitsItsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service and floods it for several seconds")
	}
	bin := filepath.Join(t.TempDir(), "gqlcache")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var answers [100][]byte // by the query's last two digits: 100 bytes to 32 KiB, 16 KiB on average
	for i := range answers {
		answers[i] = []byte(`"` + strings.Repeat("x", 100+i*32000/99) + `"`)
	}
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("query")
		n, _ := strconv.Atoi(q[max(len(q)-2, 0):])
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answers[n])
	}))
	defer org.Close()

	const mib = 1 << 20
	for _, tc := range []struct {
		name  string
		env   []string
		limit int64 // the cgroup's; 0: none
		store int64 // the store's bound the service should choose
		// The most resident memory allowed: without a container, the soft
		// limit (the bound and half again, plus 8 MiB) and 24 MiB for the
		// binary's pages and the stacks; in one, below its limit.
		maxRSS int64
	}{
		{"16 MiB store, no container", []string{"CACHE_MEMORY_BYTES=16777216"}, 0, 16 * mib, 16*mib + 8*mib + 8*mib + 24*mib},
		{"96 MiB container, defaults", nil, 96 * mib, 32 * mib, 96 * mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			if tc.limit > 0 {
				procs := memoryCgroup(t, tc.limit)
				// The service must start inside the cgroup to find its limit.
				cmd = exec.Command("sh", "-c", `echo $$ >"$0" && exec "$@"`, procs, bin)
			}
			cmd.Env = append([]string{"ADDR=127.0.0.1:0", "LOG_FORMAT=json", "CACHE_TTL=1h", "MODE=production",
				"SHUTDOWN_DELAY=0", "ORIGIN_URL=" + org.URL}, tc.env...)
			svc := startBinary(t, cmd)
			if want := fmt.Sprintf("%.1fMiB", float64(tc.store)/mib); svc.memory["cache_memory_bytes"] != want {
				t.Errorf("start-up line %v: got cache_memory_bytes %q; want %q", svc.memory, svc.memory["cache_memory_bytes"], want)
			}
			if tc.limit > 0 {
				if want := fmt.Sprintf("%.1fMiB", float64(tc.limit)/mib); svc.memory["cgroup_limit"] != want {
					t.Errorf("start-up line %v: got cgroup_limit %q; want %q", svc.memory, svc.memory["cgroup_limit"], want)
				}
			}

			// Answers average 16 KiB: four fills' worth of distinct keys.
			keys := int(4 * tc.store / (16 << 10))
			start := time.Now()
			if err := flood(svc.url, keys); err != nil {
				select {
				case <-svc.exited:
					t.Fatalf("the service died during the flood (%v; SIGKILL is the kernel's OOM killer)", svc.err)
				case <-time.After(time.Second):
				}
				t.Fatalf("flood: %v", err)
			}
			t.Logf("%d distinct keys in %v", keys, time.Since(start).Round(time.Millisecond))
			hwm := peakRSS(t, cmd.Process.Pid)
			t.Logf("peak RSS %.1f MiB", float64(hwm)/mib)
			if hwm > tc.maxRSS {
				t.Errorf("peak RSS %.1f MiB; want at most %.1f MiB", float64(hwm)/mib, float64(tc.maxRSS)/mib)
			}
			// Still answering hits: the store holds a quarter of the flood's
			// keys (which ones is W-TinyLFU's choice), so some of 200 spread
			// over the flood are hits.
			hits := 0
			for k := range 200 {
				var got struct{ Source string }
				if err := getJSON(svc.url+"/data?query="+floodQuery(k*keys/200), &got); err != nil {
					t.Fatal(err)
				}
				if got.Source == "cache" {
					hits++
				}
			}
			t.Logf("%d hits among 200 of the flood's keys asked again", hits)
			if hits == 0 {
				t.Error("none of 200 of the flood's keys asked again was a hit; want some")
			}
		})
	}
}

// memoryCgroup makes a child of this process's memory cgroup (v2 or v1)
// limited to limit bytes, removed at the test's end, and returns the file
// that moves a process into it. The test skips where the controller cannot
// be written.
func memoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no cgroups here (%v): the container case needs a writable memory controller", err)
	}
	dir, limitFile := "", ""
	for line := range strings.Lines(string(own)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		switch {
		case len(f) != 3:
		case f[0] == "0" && f[1] == "" && fileExists("/sys/fs/cgroup/cgroup.controllers"):
			dir, limitFile = filepath.Join("/sys/fs/cgroup", f[2]), "memory.max"
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			dir, limitFile = filepath.Join("/sys/fs/cgroup/memory", f[2]), "memory.limit_in_bytes"
		}
		if limitFile == "memory.limit_in_bytes" {
			break
		}
	}
	if dir == "" {
		t.Skip("no memory cgroup controller here: the container case needs a writable one")
	}
	dir = filepath.Join(dir, fmt.Sprintf("gqlcache-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a memory cgroup (%v): the container case needs a writable controller", err)
	}
	t.Cleanup(func() {
		// The kernel empties the cgroup as its last process exits.
		deadline := time.Now().Add(5 * time.Second)
		for os.Remove(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		t.Skipf("cannot limit a memory cgroup (%v): the container case needs a writable controller", err)
	}
	return filepath.Join(dir, "cgroup.procs")
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// process is a service started by startBinary.
type process struct {
	url    string
	memory map[string]string // the attributes of its "memory" start-up line
	exited chan struct{}     // closed when it has exited
	err    error             // how it exited, once exited is closed
}

// startBinary starts cmd, a service logging JSON, waits for it to listen
// and stops it at the test's end.
func startBinary(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{exited: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-p.exited
	})
	started := make(chan string, 1)
	go func() {
		defer func() {
			p.err = cmd.Wait()
			close(p.exited)
		}()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "memory":
				p.memory = map[string]string{}
				for k, v := range rec {
					p.memory[k] = fmt.Sprint(v)
				}
			case "listening":
				started <- "http://" + fmt.Sprint(rec["addr"])
			}
		}
	}()
	select {
	case p.url = <-started:
		return p
	case <-p.exited:
		t.Fatalf("the service stopped before listening (%v): %s", p.err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("the service did not listen within 10s: %s", stderr.String())
	}
	return nil
}

// flood asks url's GraphQL endpoint for n distinct keys, four to a request,
// over 4 connections: no more origin calls at once than the service's
// default ORIGIN_MAX_INFLIGHT (16), so no miss waits for a slot and none is
// refused ORIGIN_BUSY, however slow a busy machine makes the origin.
func flood(url string, n int) error {
	const conns, perRequest = 4, 4
	var (
		fields []string
		params []string
	)
	for i := range perRequest {
		params = append(params, fmt.Sprintf("$q%d: String!", i))
		fields = append(fields, fmt.Sprintf("a%d: data(query: $q%d) { source }", i, i))
	}
	query := fmt.Sprintf("query(%s) { %s }", strings.Join(params, ", "), strings.Join(fields, " "))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	g := errgroup.Group{}
	for range conns {
		g.Go(func() error {
			for {
				first := int(next.Add(perRequest)) - perRequest
				if first >= n {
					return nil
				}
				vars := map[string]string{}
				for i := range perRequest {
					vars[fmt.Sprintf("q%d", i)] = floodQuery(first + i)
				}
				body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
				resp, err := client.Post(url+"/graphql", "application/json", bytes.NewReader(body))
				if err != nil {
					return err
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
					return fmt.Errorf("got %d %s; want 200 and data", resp.StatusCode, b)
				}
			}
		})
	}
	return g.Wait()
}

// floodQuery is the flood's i-th query string, 100 bytes long.
func floodQuery(i int) string { return fmt.Sprintf("flood-%094d", i) }

// peakRSS is pid's peak resident memory (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: got status %d; want 200", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
