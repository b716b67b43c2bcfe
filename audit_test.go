package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gqlcache/gqlcache/internal/nodetest"
)

// graphqlHTTP is the GraphQL-over-HTTP spec's audit, pinned.
const graphqlHTTP = "graphql-http@1.23.1"

type auditResult struct {
	ID, Name, Status, Reason string
}

func audit(t *testing.T, url string, preflight bool) []auditResult {
	t.Helper()
	work := nodetest.Workdir(t, nodetest.Install(t, graphqlHTTP, "graphql@16.11.0"))
	script, err := os.ReadFile("testdata/graphql-http-audit.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "audit.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PREFLIGHT=false"}
	if preflight {
		env = []string{"PREFLIGHT=true"}
	}
	out := nodetest.Node(t, work, env, "audit.mjs", url)
	var results []auditResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("the audit's output is not its JSON results (%v): %s", err, out)
	}
	return results
}

// summary counts the checks that are ok by level, as MUST 13/13 and so on.
func summary(results []auditResult) string {
	ok, all := map[string]int{}, map[string]int{}
	for _, r := range results {
		level, _, _ := strings.Cut(r.Name, " ")
		all[level]++
		if r.Status == "ok" {
			ok[level]++
		}
	}
	var parts []string
	for _, level := range []string{"MUST", "SHOULD", "MAY"} {
		parts = append(parts, level+" "+strconv.Itoa(ok[level])+"/"+strconv.Itoa(all[level]))
	}
	return strings.Join(parts, ", ")
}

// TestGraphQLOverHTTPAudit runs the spec's audit against the real service
// in development mode. With the preflight header every check must pass;
// without it, only the GETs the CSRF prevention refuses may fail.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	s := startService(t, nil)
	results := audit(t, s.url+"/graphql", true)
	if len(results) < 61 {
		t.Errorf("the audit ran %d checks; want at least 61", len(results))
	}
	for _, r := range results {
		if r.Status != "ok" {
			t.Errorf("with the preflight header: %s %s: %s: %s", r.ID, r.Name, r.Status, r.Reason)
		}
	}
	t.Logf("with the preflight header: %s", summary(results))

	// GETs without a header no form or link can send are refused as
	// possible cross-site request forgeries.
	preflightGETs := []string{"5A70", "D6D5", "6A70"}
	results = audit(t, s.url+"/graphql", false)
	for _, r := range results {
		if r.Status != "ok" && !slices.Contains(preflightGETs, r.ID) {
			t.Errorf("without the preflight header: %s %s: %s: %s", r.ID, r.Name, r.Status, r.Reason)
		}
	}
	t.Logf("without the preflight header: %s", summary(results))
}
