package gqlhttp

import (
	"io"
	"net/http"
	"time"
)

// What a refused body may still cost after its refusal was sent: nginx's
// lingering close, bounded in bytes as well as in time.
const (
	lingerBytes = 32 << 20
	lingerTime  = 5 * time.Second
)

// lingerClose sends the refusal already written to w, then reads and
// discards what the client still sends of body, at most lingerBytes within
// lingerTime, before the server closes the connection. Many clients
// (Python's http.client, curl without Expect, most HTTP libraries) write a
// whole body before they read the answer; closing on one while it writes
// makes the kernel reset the connection, and the client sees a broken pipe
// instead of the refusal. net/http itself discards only 256 KiB of an
// unread body, and nothing of one cut short by http.MaxBytesReader.
//
// body must be the request's own body, not a MaxBytesReader around it.
// A client that asked to be told first (Expect: 100-continue) sends nothing
// more once refused, so nothing is read from it.
func lingerClose(w http.ResponseWriter, r *http.Request, body io.Reader) {
	if r.Header.Get("Expect") != "" {
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}
	_ = rc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, body, lingerBytes)
}
