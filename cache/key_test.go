package cache

import (
	"strings"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	key := func(t *testing.T, field string, args map[string]any, caller string) string {
		t.Helper()
		k, err := deriveKey("pfx", field, args, caller)
		if err != nil {
			t.Fatalf("deriveKey: %v", err)
		}
		return k
	}
	same := []struct {
		name string
		a, b map[string]any
	}{
		{"argument order", map[string]any{"a": "1", "b": "2"}, map[string]any{"b": "2", "a": "1"}},
		{"int widths", map[string]any{"n": 7}, map[string]any{"n": int64(7)}},
		{"integral float", map[string]any{"n": 7.0}, map[string]any{"n": 7}},
		{"nested maps", map[string]any{"m": map[string]any{"x": true, "y": nil}}, map[string]any{"m": map[string]any{"y": nil, "x": true}}},
	}
	for _, tc := range same {
		t.Run("same/"+tc.name, func(t *testing.T) {
			if a, b := key(t, "Query.data", tc.a, ""), key(t, "Query.data", tc.b, ""); a != b {
				t.Errorf("got %s and %s; want one key", a, b)
			}
		})
	}
	differ := []struct {
		name             string
		fa, fb           string
		a, b             map[string]any
		callerA, callerB string
	}{
		{name: "value", fa: "Query.data", fb: "Query.data", a: map[string]any{"query": "x"}, b: map[string]any{"query": "y"}},
		{name: "field", fa: "Query.data", fb: "Query.other", a: map[string]any{"query": "x"}, b: map[string]any{"query": "x"}},
		{name: "invalid UTF-8 bytes", fa: "Query.data", fb: "Query.data", a: map[string]any{"query": "a\xff"}, b: map[string]any{"query": "a\xfe"}},
		{name: "string vs number", fa: "Query.data", fb: "Query.data", a: map[string]any{"q": "1"}, b: map[string]any{"q": 1}},
		{name: "null vs empty", fa: "Query.data", fb: "Query.data", a: map[string]any{"q": nil}, b: map[string]any{"q": ""}},
		{name: "list split", fa: "Query.data", fb: "Query.data", a: map[string]any{"q": []any{"ab", "c"}}, b: map[string]any{"q": []any{"a", "bc"}}},
		{name: "name/value boundary", fa: "Query.data", fb: "Query.data", a: map[string]any{"ab": "c"}, b: map[string]any{"a": "bc"}},
		{name: "caller", fa: "Query.data", fb: "Query.data", a: map[string]any{"q": "x"}, b: map[string]any{"q": "x"}, callerA: HashCredential("alice"), callerB: HashCredential("bob")},
		{name: "private vs public", fa: "Query.data", fb: "Query.data", a: map[string]any{"q": "x"}, b: map[string]any{"q": "x"}, callerA: HashCredential("alice")},
	}
	for _, tc := range differ {
		t.Run("differ/"+tc.name, func(t *testing.T) {
			if a, b := key(t, tc.fa, tc.a, tc.callerA), key(t, tc.fb, tc.b, tc.callerB); a == b {
				t.Errorf("got one key %s for different queries; want two", a)
			}
		})
	}
}

func TestDeriveKeyShape(t *testing.T) {
	k, err := deriveKey("deploy-a", "Query.data", map[string]any{"query": strings.Repeat("x", 1<<20)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k, "deploy-a:v2:{") || !strings.HasSuffix(k, "}") || len(k) != len("deploy-a:v2:{}")+64 {
		t.Errorf("got key %q; want deploy-a:v2:{64 hex digits} whatever the argument's size", k)
	}
}

func TestDeriveKeyRefusesUnknownTypes(t *testing.T) {
	if _, err := deriveKey("p", "Query.data", map[string]any{"q": struct{}{}}, ""); err == nil {
		t.Error("got no error for an argument of an unknown type; want one")
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "has space", "tab\t", "é", strings.Repeat("p", MaxPrefixLen+1)} {
		if ValidatePrefix(p) == nil {
			t.Errorf("ValidatePrefix(%q) = nil; want an error", p)
		}
	}
	for _, p := range []string{"gqlcache", "team-a:prod", strings.Repeat("p", MaxPrefixLen)} {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v; want nil", p, err)
		}
	}
}

func FuzzDeriveKey(f *testing.F) {
	f.Add("weather:paris", "weather:london")
	f.Add("", "\x00")
	f.Add("a\xff", "a\xfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, err := deriveKey("p", "Query.data", map[string]any{"query": a}, "")
		if err != nil {
			t.Fatal(err)
		}
		kb, err := deriveKey("p", "Query.data", map[string]any{"query": b}, "")
		if err != nil {
			t.Fatal(err)
		}
		if (a == b) != (ka == kb) {
			t.Errorf("queries %q and %q: keys %s and %s; want equal keys exactly for equal queries", a, b, ka, kb)
		}
		if len(ka) != len("p:v2:{}")+64 {
			t.Errorf("key %q has length %d; want %d", ka, len(ka), len("p:v2:{}")+64)
		}
	})
}
