package rest

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPIDoc describes /data in OpenAPI 3.1. It lives beside the handler it
// describes, and openapi_test.go checks real requests and responses of that
// handler against it, so a change to one without the other fails the tests.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPIETag lets clients and generators poll the document cheaply; it
// changes only when the binary does.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDoc)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// OpenAPI serves the shim's OpenAPI 3.1 document as application/json.
//
// It exists so that the legacy REST callers, which cannot use the GraphQL
// schema, still get a machine-readable contract from the running service:
// client generators, API gateways and contract tests read it instead of the
// prose of docs/rest.md, and it is the same document the tests hold the handler to.
func OpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", openAPIETag)
		// ServeContent answers If-None-Match, HEAD and ranges from the ETag.
		http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(openAPIDoc))
	})
}
