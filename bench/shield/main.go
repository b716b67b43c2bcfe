// Command shield measures how well a running gqlcache shields its origin
// (BENCHMARKS.md, "Origin protection"). It serves the upstream itself, on
// -upstream, and the service under test must have been started with
// ORIGIN_URL=http://<that address>/items/{query}. It reports the origin
// calls that 100 reloads and 20 requests for a missing item cost, and the
// peak origin concurrency under a cache-busting flood with a warm key's
// latency during it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// upstream is the origin: slow for flood keys, 404 for missing ones,
// counting its calls and the most it had under way at once.
type upstream struct {
	delay         time.Duration
	calls         atomic.Int64
	mu            sync.Mutex
	inflight, top int
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.calls.Add(1)
	u.mu.Lock()
	u.inflight++
	u.top = max(u.top, u.inflight)
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.inflight--
		u.mu.Unlock()
	}()
	switch {
	case strings.Contains(r.URL.Path, "missing"):
		http.NotFound(w, r)
		return
	case strings.Contains(r.URL.Path, "flood"):
		time.Sleep(u.delay)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"item":%q}`, r.URL.Path)
}

func (u *upstream) peak() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.top
}

func main() {
	svc := flag.String("service", "http://127.0.0.1:8080", "the service under test")
	addr := flag.String("upstream", "127.0.0.1:18932", "where to serve the upstream")
	delay := flag.Duration("delay", 500*time.Millisecond, "the upstream's latency for flood keys")
	conns := flag.Int("c", 64, "flood connections")
	dur := flag.Duration("d", 10*time.Second, "flood duration")
	flag.Parse()

	up := &upstream{delay: *delay}
	go func() { log.Fatal(http.ListenAndServe(*addr, up)) }()
	time.Sleep(200 * time.Millisecond)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * *conns}}
	get := func(q string, header ...string) (int, time.Duration) {
		req, err := http.NewRequest(http.MethodGet, *svc+"/data?query="+url.QueryEscape(q), nil)
		if err != nil {
			log.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, time.Since(start)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}

	before := up.calls.Load()
	for range 100 {
		get("reload", "Cache-Control", "max-age=0")
	}
	fmt.Printf("100 reloads (Cache-Control: max-age=0): %d origin calls\n", up.calls.Load()-before)

	before = up.calls.Load()
	statuses := map[int]int{}
	for range 20 {
		code, _ := get("missing")
		statuses[code]++
	}
	fmt.Printf("20 requests for a missing item: %d origin calls; statuses %v\n", up.calls.Load()-before, statuses)

	get("warm")
	var mu sync.Mutex
	flood := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	run := time.Now().UnixNano()
	for c := range *conns {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, _ := get(fmt.Sprintf("flood-%d-%d-%d", run, c, i))
				mu.Lock()
				flood[code]++
				mu.Unlock()
			}
		})
	}
	var lat []time.Duration
	warm := map[int]int{}
	for end := time.Now().Add(*dur); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		code, d := get("warm")
		warm[code]++
		lat = append(lat, d)
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	at := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)].Round(10 * time.Microsecond) }
	fmt.Printf("flood (%d connections, every request a new key, origin latency %v, %v): peak origin concurrency %d; statuses %v\n",
		*conns, *delay, *dur, up.peak(), flood)
	fmt.Printf("warm key during the flood: statuses %v, p50 %v, p99 %v, max %v\n", warm, at(0.5), at(0.99), lat[len(lat)-1].Round(10*time.Microsecond))
}
