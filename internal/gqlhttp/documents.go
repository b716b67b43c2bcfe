package gqlhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gqlcache/gqlcache/internal/httpapi"
)

// Documents are the operations a client app was built with, by id: the
// trusted documents of the GraphQL-over-HTTP persisted documents proposal,
// as GraphQL Code Generator's persisted-documents.json lists them.
type Documents struct {
	byID   map[string]string
	byText map[string]bool
}

// LoadDocuments reads a manifest (a JSON object from document id, such as
// a SHA-256 hash in hex, to document text) and checks that every document
// in it parses and validates against schema, so that a manifest built for
// another schema stops the service at start rather than failing its
// clients one request at a time.
func LoadDocuments(path string, schema *ast.Schema) (*Documents, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var manifest map[string]string
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object from document id to document text: %w", path, err)
	}
	if len(manifest) == 0 {
		return nil, fmt.Errorf("%s holds no documents", path)
	}
	d := &Documents{byID: make(map[string]string, len(manifest)), byText: make(map[string]bool, len(manifest))}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(manifest)) {
		text := manifest[id]
		if _, list := gqlparser.LoadQueryWithRules(schema, text, nil); len(list) > 0 {
			errs = append(errs, fmt.Errorf("document %s: %s", id, list[0].Message))
			continue
		}
		d.byID[documentID(id)] = text
		d.byText[text] = true
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %d of its %d documents do not validate against the schema: %w",
			path, len(errs), len(manifest), errors.Join(errs...))
	}
	return d, nil
}

// documentID is an id without the proposal's "sha256:" prefix, so that
// clients may send either form.
func documentID(id string) string {
	return strings.TrimPrefix(id, "sha256:")
}

// refusal is why a request cannot run: its code and message.
type refusal struct{ code, msg string }

// resolveDocument fills params.Query from the trusted documents when the
// request names one, by documentId or by an automatic persisted query hash
// that the manifest knows, and applies the trusted-only rule. A query that
// is still missing afterwards is refused, unless an automatic persisted
// query hash may supply it.
func (o *Options) resolveDocument(params *graphql.RawParams, docID string) *refusal {
	d := o.Documents
	trusted := false
	switch {
	case docID != "":
		if params.Query != "" {
			return &refusal{httpapi.CodeBadRequest, "send either documentId or query, not both"}
		}
		text, ok := d.lookup(docID)
		if !ok {
			return &refusal{httpapi.CodeDocumentNotFound, "no trusted document has this documentId"}
		}
		params.Query, trusted = text, true
	case d != nil:
		if hash, ok := apqHash(params.Extensions); ok {
			if text, ok := d.lookup(hash); ok && (params.Query == "" || params.Query == text) {
				// Answered from the manifest: the automatic persisted
				// queries' store need not learn or be asked for it.
				params.Query, trusted = text, true
				delete(params.Extensions, "persistedQuery")
			}
		}
		trusted = trusted || d.byText[params.Query]
	}
	if o.TrustedOnly && !trusted {
		return &refusal{httpapi.CodeTrustedOnly,
			"this server runs only its trusted documents: send the documentId of an operation from its manifest"}
	}
	if params.Query == "" {
		if _, ok := apqHash(params.Extensions); !ok {
			return &refusal{httpapi.CodeBadRequest, `the request has no query: send {"query": "..."} or a documentId`}
		}
	}
	return nil
}

func (d *Documents) lookup(id string) (string, bool) {
	if d == nil {
		return "", false
	}
	text, ok := d.byID[documentID(id)]
	return text, ok
}

// apqHash is the hash of an automatic persisted query, as Apollo clients
// send it in extensions.persistedQuery.sha256Hash.
func apqHash(ext map[string]any) (string, bool) {
	pq, _ := ext["persistedQuery"].(map[string]any)
	hash, ok := pq["sha256Hash"].(string)
	return hash, ok && hash != ""
}
