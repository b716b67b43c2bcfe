// Command delayproxy stands between the service and Redis and holds every
// Redis reply for a set delay: the slow-but-alive Redis of the reliability
// runs (bench/stall.sh).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gqlcache/gqlcache/internal/redistest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6380", "listen address")
	upstream := flag.String("upstream", "127.0.0.1:6379", "Redis address")
	delay := flag.Duration("delay", 0, "added to every reply")
	flag.Parse()
	p, err := redistest.NewDelayProxy(*addr, *upstream, *delay)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayproxy:", err)
		os.Exit(1)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	p.Close()
}
