package main

import (
	"bytes"
	"os/exec"
	"testing"
	"time"
)

// TestOriginalServiceCallers runs a caller of the original Flask service,
// in Python with its standard library only, against a real service process
// in each timestamp form: the original's "Check Results" calls, and the
// original's own arithmetic on cached_at. Both run in a zone far from UTC
// with a half-hour offset, so a naive timestamp in the wrong zone, or an
// offset the caller's arithmetic cannot take, is hours off and fails.
func TestOriginalServiceCallers(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is missing: install Debian's python3 package (make test does)")
	}
	const zone = "Asia/Kolkata"
	if _, err := time.LoadLocation(zone); err != nil {
		t.Fatalf("time zone %s: %v: install Debian's tzdata package", zone, err)
	}
	for _, mode := range []string{"aware", "naive"} {
		t.Run(mode, func(t *testing.T) {
			// A TTL well above the time six calls can take on a busy machine:
			// the caller expects its second call of each pair to hit.
			s := startProcess(t, map[string]string{"REST_TIMESTAMPS": mode, "TZ": zone, "CACHE_TTL": "60s"})
			cmd := exec.Command(python, "testdata/legacy_client.py", s.url, mode, "60")
			cmd.Env = []string{"TZ=" + zone, "PYTHONDONTWRITEBYTECODE=1"}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("the legacy client failed (%v):\n%s", err, out.String())
			}
			// /data, /data?foo=bar and two cache-busters: one origin call each.
			if n := s.metric("gqlcache_origin_fetches_total"); n != 4 {
				t.Errorf("origin fetches = %v; want 4, one per distinct query string", n)
			}
		})
	}
}
