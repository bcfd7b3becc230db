package controlapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/internal/replicaio"
)

// ExecRequest is the body of an exec call.
type ExecRequest struct {
	// Replica names the container; empty means the first ready replica.
	Replica string   `json:"replica,omitempty"`
	Cmd     []string `json:"cmd"`
	TTY     bool     `json:"tty,omitempty"`
	Stdin   bool     `json:"stdin,omitempty"`
	Height  uint     `json:"height,omitempty"`
	Width   uint     `json:"width,omitempty"`
}

// ExecBackend is the part of a Backend that runs commands in replicas.
type ExecBackend interface {
	// Exec starts req.Cmd in a replica of spec name and returns the
	// process and the name of the replica it runs in.
	Exec(ctx context.Context, name string, req ExecRequest) (replicaio.Process, string, error)
}

// execProtocol names the stream an exec call upgrades its connection to:
// frames of a type byte, a big-endian uint32 length and a payload, as
// below. One connection carries stdin, the terminal's size, the output and
// the exit code, so nothing is left to a second call.
const execProtocol = "scaler-exec"

// Frame types: client to scalerd, then scalerd to client.
const (
	frameStdin    byte = 0 // bytes for the process's stdin
	frameStdinEOF byte = 1 // stdin ended
	frameResize   byte = 2 // height, width as uint16
	frameStdout   byte = 3
	frameStderr   byte = 4
	frameExit     byte = 5 // exit code as int32; the last frame
	frameError    byte = 6 // the process could not be followed; the last frame
)

// maxFrame bounds one frame's payload; writers split longer data.
const maxFrame = 32 << 10

// exitTimeout bounds the wait for the Engine to record an exit code after
// the output ended.
const exitTimeout = 30 * time.Second

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("exec stream: frame of %d bytes, more than %d", n, maxFrame)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("exec stream cut inside a frame: %w", err)
	}
	return hdr[0], payload, nil
}

// frameWriter serialises frames from several writers on one connection.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameWriter) write(typ byte, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return writeFrame(f.w, typ, payload)
}

// stream is an io.Writer that sends what it is given as frames of typ.
func (f *frameWriter) stream(typ byte) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		for sent := 0; sent < len(p); {
			n := min(len(p)-sent, maxFrame)
			if err := f.write(typ, p[sent:sent+n]); err != nil {
				return sent, err
			}
			sent += n
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func registerExec(mux *http.ServeMux, b ExecBackend, log logr.Logger) {
	mux.HandleFunc("POST /v1/specs/{name}/exec", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), execProtocol) {
			reply(w, log, nil, fmt.Errorf("%w: exec upgrades the connection; send Upgrade: %s", ErrInvalid, execProtocol))
			return
		}
		var req ExecRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			reply(w, log, nil, fmt.Errorf("%w: exec body: %v", ErrInvalid, err))
			return
		}
		if len(req.Cmd) == 0 {
			reply(w, log, nil, fmt.Errorf("%w: exec needs a command: scalectl exec NAME -- CMD [ARGS...]", ErrInvalid))
			return
		}
		proc, replica, err := b.Exec(r.Context(), r.PathValue("name"), req)
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			proc.Close()
			log.Error(err, "exec: cannot take over the connection")
			return
		}
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\nScaler-Replica: %s\r\n\r\n", execProtocol, replica)
		if err := rw.Flush(); err != nil {
			conn.Close()
			proc.Close()
			return
		}
		serveExec(conn, rw.Reader, proc, log)
	})
}

// serveExec relays between the client's connection and the process until
// the process ends (then the exit code is the last frame) or the client
// goes away (then the process's streams are closed).
func serveExec(conn net.Conn, in io.Reader, proc replicaio.Process, log logr.Logger) {
	defer conn.Close()
	defer proc.Close()
	out := &frameWriter{w: conn}
	go func() {
		for {
			typ, payload, err := readFrame(in)
			if err != nil {
				// The client went away, or we closed conn at the end.
				proc.Close()
				return
			}
			switch typ {
			case frameStdin:
				if _, err := proc.Write(payload); err != nil {
					return
				}
			case frameStdinEOF:
				_ = proc.CloseStdin()
			case frameResize:
				if len(payload) == 4 {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := proc.Resize(ctx, uint(binary.BigEndian.Uint16(payload)), uint(binary.BigEndian.Uint16(payload[2:])))
					cancel()
					if err != nil {
						log.V(1).Info("exec resize failed", "error", err.Error())
					}
				}
			}
		}
	}()
	if err := proc.CopyOutput(out.stream(frameStdout), out.stream(frameStderr)); err != nil {
		_ = out.write(frameError, []byte("reading the process's output: "+err.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	code, err := proc.ExitCode(ctx)
	if err != nil {
		_ = out.write(frameError, []byte(err.Error()))
		return
	}
	var payload [4]byte
	binary.BigEndian.PutUint32(payload[:], uint32(int32(code)))
	_ = out.write(frameExit, payload[:])
}

// ExecSession is a process started by Client.Exec.
type ExecSession struct {
	// Replica is the replica the process runs in.
	Replica string
	conn    io.ReadWriteCloser
	in      *bufio.Reader
	out     *frameWriter
}

// Exec starts req.Cmd in a replica of spec name. The caller feeds stdin
// with Write and CloseStdin, and reads output and exit code with Wait.
func (c *Client) Exec(ctx context.Context, name string, req ExecRequest) (*ExecSession, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	header := http.Header{"Connection": {"Upgrade"}, "Upgrade": {execProtocol}, "Content-Type": {"application/json"}}
	resp, err := c.send(ctx, http.MethodPost, "/v1/specs/"+url.PathEscape(name)+"/exec", body, header)
	if err != nil {
		return nil, err
	}
	conn, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != http.StatusSwitchingProtocols || !ok {
		resp.Body.Close()
		return nil, fmt.Errorf("scalerd answered %s to exec instead of switching to the exec stream; is it older than this scalectl?", resp.Status)
	}
	return &ExecSession{Replica: resp.Header.Get("Scaler-Replica"), conn: conn, in: bufio.NewReader(conn), out: &frameWriter{w: conn}}, nil
}

// Write sends p to the process's stdin.
func (s *ExecSession) Write(p []byte) (int, error) { return s.out.stream(frameStdin).Write(p) }

// CloseStdin ends the process's stdin.
func (s *ExecSession) CloseStdin() error { return s.out.write(frameStdinEOF, nil) }

// Resize sets the size of the process's terminal.
func (s *ExecSession) Resize(height, width uint16) error {
	var p [4]byte
	binary.BigEndian.PutUint16(p[:], height)
	binary.BigEndian.PutUint16(p[2:], width)
	return s.out.write(frameResize, p[:])
}

// Wait copies the process's output until it ends and returns its exit code.
func (s *ExecSession) Wait(stdout, stderr io.Writer) (int, error) {
	for {
		typ, payload, err := readFrame(s.in)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, errors.New("scalerd closed the exec stream before the process's exit code came")
			}
			return 0, err
		}
		switch typ {
		case frameStdout:
			if _, err := stdout.Write(payload); err != nil {
				return 0, err
			}
		case frameStderr:
			if _, err := stderr.Write(payload); err != nil {
				return 0, err
			}
		case frameExit:
			if len(payload) != 4 {
				return 0, errors.New("exec stream: malformed exit frame")
			}
			return int(int32(binary.BigEndian.Uint32(payload))), nil
		case frameError:
			return 0, errors.New(string(payload))
		}
	}
}

// Close drops the connection.
func (s *ExecSession) Close() error { return s.conn.Close() }
