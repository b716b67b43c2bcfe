package main

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrainsBeforeStopping is what a load balancer sees of a replica
// told to stop: its readiness fails at once, yet requests still sent to it
// are answered, each closing its connection so that the client reconnects
// elsewhere; then it exits cleanly.
func TestSIGTERMDrainsBeforeStopping(t *testing.T) {
	// The delay only has to outlast a few requests on a loopback port.
	s := startProcess(t, map[string]string{"SHUTDOWN_DELAY": "5s"})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	if code, body := fetch(t, client, s.url+"/readyz"); code != http.StatusOK {
		t.Fatalf("before the signal: GET /readyz = %d %s; want 200", code, body)
	}
	if resp := getData(t, client, s.url); resp.Close {
		t.Fatal("before the signal: GET /data asked to close its connection; want keep-alive")
	}

	if err := s.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var body string
	waitUntil(t, "GET /readyz answers 503 after SIGTERM", func() bool {
		var code int
		code, body = fetch(t, client, s.url+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, `"draining"`) {
		t.Errorf("draining: GET /readyz body = %s; want it to say draining", body)
	}
	if code, body := fetch(t, client, s.url+"/healthz"); code != http.StatusOK {
		t.Errorf("draining: GET /healthz = %d %s; want 200, or a liveness probe would restart the replica mid-drain", code, body)
	}
	resp := getData(t, client, s.url)
	// Go's client reads Connection: close into resp.Close.
	if !resp.Close {
		t.Error("draining: GET /data kept its connection alive; want Connection: close")
	}

	if err := s.exit(time.Minute); err != nil {
		t.Errorf("after the drain: the process exited with %v; want exit status 0\nlog:\n%s", err, s.logs)
	}
}

// TestSecondSignalStopsAtOnce: an operator who cannot wait out the drain
// signals again.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	s := startProcess(t, map[string]string{"SHUTDOWN_DELAY": "1h"})
	if err := s.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "GET /readyz answers 503 after SIGTERM", func() bool {
		code, _ := fetch(t, http.DefaultClient, s.url+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	if err := s.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Far less than the hour's drain: the process is gone, ended by the
	// signal's default action.
	err := s.exit(time.Minute)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("after a second SIGTERM: the process ended with %v; want it killed by SIGTERM", err)
	}
}

// getData sends one GET /data and reads its answer whole, so that its
// connection goes back to the client's pool unless the answer closed it.
func getData(t *testing.T, client *http.Client, base string) *http.Response {
	t.Helper()
	resp, err := client.Get(base + "/data?query=drain")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /data = %d; want 200", resp.StatusCode)
	}
	return resp
}

func fetch(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUntil polls cond until it holds, failing the test after a minute: a
// bound for a broken service, not a timing the test depends on.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after a minute: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
