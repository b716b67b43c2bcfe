package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOversizedBodyRefusalIsRead sends an 8 MiB POST over a raw connection
// the way Python's http.client and many other clients do, writing the whole
// body before reading a byte of the answer, and wants the 413 back rather
// than a reset connection: with a declared Content-Length (refused before a
// byte is read) and chunked (refused once the limit is crossed).
func TestOversizedBodyRefusalIsRead(t *testing.T) {
	s := startService(t, nil)
	addr := strings.TrimPrefix(s.url, "http://")
	const size = 8 << 20
	chunked := func(body []byte) []byte {
		var b bytes.Buffer
		for len(body) > 0 {
			n := min(len(body), 64<<10)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
			body = body[n:]
		}
		b.WriteString("0\r\n\r\n")
		return b.Bytes()
	}
	body := bytes.Repeat([]byte("x"), size)
	for _, tc := range []struct {
		name, header string
		body         []byte
	}{
		{"content-length", fmt.Sprintf("Content-Length: %d\r\n", size), body},
		{"chunked", "Transfer-Encoding: chunked\r\n", chunked(body)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			req := "POST /graphql HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" + tc.header + "\r\n"
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(tc.body); err != nil {
				t.Fatalf("writing the body: %v; want the server to read it through after refusing it", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v; want a 413", err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(got, []byte("PAYLOAD_TOO_LARGE")) {
				t.Errorf("got %d %s; want 413 with code PAYLOAD_TOO_LARGE", resp.StatusCode, got)
			}
		})
	}
}
