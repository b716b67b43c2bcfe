package gqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gqlcache/gqlcache/internal/httpapi"
)

// preflighted reports whether a request carries a header that no HTML form,
// link or image can send, so that a browser must have asked the server's
// CORS policy first: Apollo's CSRF prevention, under Apollo's header names.
func preflighted(r *http.Request) bool {
	return r.Header.Get("Apollo-Require-Preflight") != "" || r.Header.Get("X-Apollo-Operation-Name") != ""
}

const csrfMessage = "this request has been blocked as a possible cross-site request forgery: " +
	"send it as POST with Content-Type: application/json, or add an Apollo-Require-Preflight header"

// postTransport reads an application/json POST body once, within the size
// limit, and decodes it without ever repeating it in an error.
type postTransport struct {
	o     *Options
	lim   Limits
	plans *planner
}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool { return r.Method == http.MethodPost }

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	m, ok := negotiate(r.Header.Values("Accept"))
	if !ok {
		notAcceptable(w)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		// Forms and plain text are what a cross-site page can POST without
		// a preflight; nothing here accepts them, but the refusal says why.
		if !preflighted(r) {
			writeError(w, m, httpapi.CodeCSRF, csrfMessage)
			return
		}
		writeError(w, m, httpapi.CodeUnsupportedMedia, "send the operation as a JSON body with Content-Type: application/json")
		return
	}
	if r.ContentLength > t.lim.MaxBodyBytes {
		t.tooLarge(w, r, m)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.lim.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			t.tooLarge(w, r, m)
			return
		}
		writeError(w, m, httpapi.CodeBadRequest, "the request body could not be read")
		return
	}
	request := "POST " + string(body)
	plans := t.plans.forRequest(r)
	if plans.serve(r.Context(), w, m, request, false) {
		return
	}
	req, msg := decodeBody(body)
	if msg != "" {
		writeError(w, m, httpapi.CodeBadRequest, msg)
		return
	}
	params := &req.RawParams
	if ref := t.o.resolveDocument(params, req.DocumentID); ref != nil {
		writeError(w, m, ref.code, ref.msg)
		return
	}
	params.Headers = r.Header
	execute(r.Context(), w, m, exec, params, false, plans, request)
}

// tooLarge refuses r's body and lets the client finish sending it, so that
// it reads the refusal (see lingerClose).
func (t postTransport) tooLarge(w http.ResponseWriter, r *http.Request, m mediaType) {
	writeError(w, m, httpapi.CodePayloadTooLarge,
		fmt.Sprintf("the request body is larger than %d bytes", t.lim.MaxBodyBytes))
	lingerClose(w, r, r.Body)
}

// postBody is a GraphQL-over-HTTP request body, with the persisted
// documents proposal's documentId beside the spec's parameters.
type postBody struct {
	graphql.RawParams
	DocumentID string `json:"documentId"`
}

// decodeBody parses a GraphQL-over-HTTP request body, or says what is wrong
// with it in words that quote none of it.
func decodeBody(body []byte) (*postBody, string) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil, `the request body is empty: send {"query": "..."}`
	case !utf8.Valid(body):
		return nil, "the request body is not valid UTF-8"
	case trimmed[0] == '[':
		return nil, "batched operations are not supported: send one operation per request"
	case trimmed[0] != '{':
		return nil, `the request body must be a JSON object: {"query": "...", "variables": {...}}`
	}
	params := &postBody{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		return nil, describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "the request body holds more than one JSON value"
	}
	return params, ""
}

func describeJSONError(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		want := "a string"
		if te.Field == "variables" || te.Field == "extensions" || strings.HasPrefix(te.Field, "variables.") || strings.HasPrefix(te.Field, "extensions.") {
			want = "a JSON object"
		}
		return fmt.Sprintf("the request body's %q must be %s, not a %s", te.Field, want, te.Value)
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("the request body is not valid JSON (at byte %d)", se.Offset)
	}
	return "the request body is not a valid GraphQL request"
}

func notAcceptable(w http.ResponseWriter) {
	writeError(w, mediaJSON, httpapi.CodeNotAcceptable,
		"the Accept header allows neither application/graphql-response+json nor application/json")
}

// getTransport serves queries sent as URL parameters, which HTTP caches can
// keep. Being what a link or an image sends, it demands a preflight header.
type getTransport struct {
	o     *Options
	lim   Limits
	plans *planner
}

var _ graphql.Transport = getTransport{}

func (getTransport) Supports(r *http.Request) bool { return r.Method == http.MethodGet }

var getParams = map[string]bool{"query": true, "operationName": true, "variables": true, "extensions": true, "documentId": true}

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	m, ok := negotiate(r.Header.Values("Accept"))
	if !ok {
		notAcceptable(w)
		return
	}
	if !preflighted(r) {
		writeError(w, m, httpapi.CodeCSRF, csrfMessage)
		return
	}
	request := "GET " + r.URL.RawQuery
	plans := t.plans.forRequest(r)
	if plans.serve(r.Context(), w, m, request, true) {
		return
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, m, httpapi.CodeBadRequest, "the URL's query string is malformed")
		return
	}
	for name, vs := range vals {
		switch {
		case !getParams[name]:
			writeError(w, m, httpapi.CodeBadRequest,
				fmt.Sprintf("unknown parameter %q: GET accepts query, documentId, operationName, variables and extensions", name))
			return
		case len(vs) > 1:
			writeError(w, m, httpapi.CodeBadRequest, fmt.Sprintf("parameter %q must be given once", name))
			return
		case !utf8.ValidString(vs[0]):
			writeError(w, m, httpapi.CodeBadRequest, fmt.Sprintf("parameter %q is not valid UTF-8", name))
			return
		}
	}
	params := &graphql.RawParams{Query: vals.Get("query"), OperationName: vals.Get("operationName"), Headers: r.Header}
	for name, dst := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		if v := vals.Get(name); v != "" {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(dst); err != nil {
				writeError(w, m, httpapi.CodeBadRequest, fmt.Sprintf("parameter %q must be a JSON object", name))
				return
			}
		}
	}
	if ref := t.o.resolveDocument(params, vals.Get("documentId")); ref != nil {
		writeError(w, m, ref.code, ref.msg)
		return
	}
	execute(r.Context(), w, m, exec, params, true, plans, request)
}
