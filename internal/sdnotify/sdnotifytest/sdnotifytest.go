// Package sdnotifytest is a fake systemd for tests: a notify socket whose
// datagrams arrive on a channel.
package sdnotifytest

import (
	"net"
	"path/filepath"
	"testing"
)

// Listen opens a unixgram socket in a temporary directory, the path to
// give as NOTIFY_SOCKET, and returns it with the channel its datagrams
// arrive on; the channel is closed when the socket is, at the test's end.
func Listen(t testing.TB) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return path, ch
}
