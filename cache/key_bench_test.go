package cache

import "testing"

func BenchmarkDeriveKey(b *testing.B) {
	args := map[string]any{"query": "weather:paris"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := deriveKey("gqlcache", "Query.data", args, ""); err != nil {
			b.Fatal(err)
		}
	}
}
