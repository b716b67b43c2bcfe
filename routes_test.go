package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPanicIsAGeneric500WithTheRequestID(t *testing.T) {
	var logs bytes.Buffer
	h := withRequestID(withRecover(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal state at 10.0.0.7")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/data?query=x", nil))

	var body struct {
		Code      string `json:"code"`
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	id := rec.Header().Get("X-Request-Id")
	if rec.Code != http.StatusInternalServerError || body.Code != "INTERNAL_SERVER_ERROR" || id == "" {
		t.Fatalf("got %d %s with X-Request-Id %q; want 500 INTERNAL_SERVER_ERROR with an id", rec.Code, rec.Body.String(), id)
	}
	if strings.Contains(rec.Body.String(), "10.0.0.7") {
		t.Errorf("the response leaks the panic: %s", rec.Body.String())
	}
	if body.RequestID != id || !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
		t.Errorf("the request id %s must be in the response %s and in the log %s", id, rec.Body.String(), logs.String())
	}
}

func TestRequestIDFromAProxyIsKeptOnlyWhenSane(t *testing.T) {
	h := withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(requestID(r.Context())))
	}))
	for in, keep := range map[string]bool{"abc-123_x.y": true, "": false, "has space": false, "<script>": false, strings.Repeat("a", 65): false} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("X-Request-Id", in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("X-Request-Id"); (got == in) != keep || got == "" || got != rec.Body.String() {
			t.Errorf("X-Request-Id %q: got %q; want it kept: %v", in, got, keep)
		}
	}
}

func TestPlaygroundOffWithoutIntrospection(t *testing.T) {
	s := startService(t, map[string]string{"MODE": "production"})
	if code, body := s.get("/"); code != http.StatusNotFound || !strings.Contains(body, "NOT_FOUND") {
		t.Errorf("GET / in production = %d %s; want a JSON 404 (no playground without introspection)", code, body)
	}
	dev := startService(t, map[string]string{"MODE": "production", "INTROSPECTION": "true"})
	if code, _ := dev.get("/"); code != http.StatusOK {
		t.Errorf("GET / in production with INTROSPECTION=true = %d; want the playground", code)
	}
	resp, err := http.Post(dev.url+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(string(body), "METHOD_NOT_ALLOWED") {
		t.Errorf("POST / = %d Allow %q %s; want a JSON 405 naming GET and HEAD (the page exists)", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}
