//go:build unix

package fakeinference_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A client that reads slowly fills the socket: the pacer must hand the rest
// to the request's goroutine and still deliver every byte in order, with the
// chunked framing intact for the next request on the same connection.
func TestSlowClientGetsEveryToken(t *testing.T) {
	t.Parallel()
	const tokens = 40000 // about 7 MB of events: more than loopback's send and receive buffers
	for _, mode := range streamModes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			_, ts, _ := startMode(t, instant(t, nil), mode)
			d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
				var serr error
				err := c.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
				if err != nil {
					return err
				}
				return serr
			}}
			conn, err := d.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for i := range 2 { // the second request reuses the connection
				body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"slow"}],"stream":true,"max_tokens":%d,"ignore_eos":true}`, testModel, tokens)
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if err := req.Write(conn); err != nil {
					t.Fatalf("request %d: write: %v", i, err)
				}
				time.Sleep(300 * time.Millisecond) // the server fills the socket meanwhile
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				resp, err := http.ReadResponse(br, req)
				if err != nil {
					t.Fatalf("request %d: read response: %v", i, err)
				}
				events, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("request %d: read body (chunked framing): %v", i, err)
				}
				if got := bytes.Count(events, []byte(`"delta":{"content":`)); got != tokens {
					t.Errorf("request %d: %d content tokens, want %d", i, got, tokens)
				}
				if !bytes.HasSuffix(events, []byte("data: [DONE]\n\n")) {
					t.Errorf("request %d: events end with %q, want data: [DONE]", i, events[max(0, len(events)-40):])
				}
				if n := bytes.Count(events, []byte("\n\ndata: ")) + 1; n != tokens+3 { // role, tokens, finish, [DONE]
					t.Errorf("request %d: %d events, want %d", i, n, tokens+3)
				}
			}
			if got := metric(t, ts.URL, "vllm:generation_tokens_total"); got != 2*tokens {
				t.Errorf("vllm:generation_tokens_total = %v, want %d", got, 2*tokens)
			}
		})
	}
}
