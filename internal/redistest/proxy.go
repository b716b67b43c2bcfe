package redistest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DelayProxy is a TCP proxy in front of a Redis that holds every reply for
// a set delay before passing it on: a Redis that is slow but alive, which
// neither refuses nor drops a connection. Requests pass at once, and
// replies keep their order.
type DelayProxy struct {
	l        net.Listener
	upstream string
	delay    atomic.Int64 // nanoseconds
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	done     chan struct{} // closed by Close, to cut short the replies' delays
	wg       sync.WaitGroup
}

// Delayed starts a DelayProxy in front of upstream (host:port) for the test
// and closes it at cleanup.
func Delayed(t testing.TB, upstream string, delay time.Duration) *DelayProxy {
	t.Helper()
	p, err := NewDelayProxy("127.0.0.1:0", upstream, delay)
	if err != nil {
		t.Fatalf("start the delaying proxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewDelayProxy listens on addr and forwards each connection to upstream,
// holding replies for delay.
func NewDelayProxy(addr, upstream string, delay time.Duration) (*DelayProxy, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &DelayProxy{l: l, upstream: upstream, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	p.SetDelay(delay)
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *DelayProxy) Addr() string { return p.l.Addr().String() }

// URL is the proxy's redis:// URL.
func (p *DelayProxy) URL() string { return "redis://" + p.Addr() + "/0" }

// SetDelay changes the delay for replies read from now on.
func (p *DelayProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Close stops listening, drops every connection and waits for the proxy's
// goroutines to end.
func (p *DelayProxy) Close() {
	_ = p.l.Close()
	p.mu.Lock()
	if !p.closed {
		close(p.done)
	}
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// track remembers c so that Close can drop it; it reports false once the
// proxy is closed.
func (p *DelayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// drop closes c and forgets it.
func (p *DelayProxy) drop(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *DelayProxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !p.track(client) || !p.track(server) {
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.wg.Go(func() {
			_, _ = io.Copy(server, client)
			p.drop(server)
		})
		p.wg.Go(func() {
			p.delayReplies(client, server)
			p.drop(client)
		})
	}
}

// chunk is one read of replies and when it may be passed on.
type chunk struct {
	b   []byte
	due time.Time
}

// delayReplies reads replies as they come and writes each to the client
// once its delay has passed, in order.
func (p *DelayProxy) delayReplies(client, server net.Conn) {
	chunks := make(chan chunk, 1024)
	p.wg.Go(func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := server.Read(buf)
			if n > 0 {
				chunks <- chunk{b: buf[:n], due: time.Now().Add(time.Duration(p.delay.Load()))}
			}
			if err != nil {
				return
			}
		}
	})
	for c := range chunks {
		t := time.NewTimer(time.Until(c.due))
		select {
		case <-t.C:
		case <-p.done:
			t.Stop()
		}
		if _, err := client.Write(c.b); err != nil {
			// Closing the server's side ends the reader; draining keeps it
			// from blocking on a full channel meanwhile.
			_ = server.Close()
			for range chunks {
			}
			return
		}
	}
}
