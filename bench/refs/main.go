// Command refs serves the two reference points the load comparison measures
// the service against, on the same machine under the same load:
//
//	-mode floor    a bare net/http handler writing constant JSON: the HTTP floor
//	-mode ceiling  a bare net/http handler doing one go-redis GET and writing
//	               the bytes: the Redis ceiling, what a cache that pays one
//	               round trip per hit can at best reach
//
// They are benchmark fixtures, not part of the service.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// body is shaped like the service's REST answer, so both write alike.
const body = `{"source":"cache","data":"Hello, this is fresh data at 2026-11-26T05:07:51.442008574Z","cached_at":"2026-11-26T05:07:51.442Z","expires_in_seconds":5}` + "\n"

func main() {
	mode := flag.String("mode", "floor", "floor or ceiling")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis for -mode ceiling")
	key := flag.String("key", "bench:ceiling", "the key -mode ceiling reads")
	flag.Parse()

	var h http.Handler
	switch *mode {
	case "floor":
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		})
	case "ceiling":
		opt, err := redis.ParseURL(*redisURL)
		if err != nil {
			log.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		if err := rdb.Set(context.Background(), *key, body, 0).Err(); err != nil {
			log.Fatal(err)
		}
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := rdb.Get(r.Context(), *key).Bytes()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		})
	default:
		log.Fatalf("unknown mode %q", *mode)
	}
	srv := &http.Server{Addr: *addr, Handler: h}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		_ = srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "refs: %s on %s\n", *mode, *addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
