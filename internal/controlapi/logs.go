package controlapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-logr/logr"
)

// LogsOptions select what `scalectl logs` shows.
type LogsOptions struct {
	// Replicas names the replicas to show (an app replica or the load
	// balancer); empty means every app replica.
	Replicas []string
	// LoadBalancer adds the spec's load balancer to the replicas.
	LoadBalancer bool
	// Since drops older lines; zero keeps them all.
	Since time.Time
	// Tail keeps the last Tail lines of each replica; negative keeps all.
	Tail int
	// Follow goes on with new lines, and with replicas that join.
	Follow bool
}

// Log record events: a replica's log starts or ends while following.
const (
	LogJoined = "joined"
	LogLeft   = "left"
)

// LogRecord is one line of a replica's log, or an event about the stream.
type LogRecord struct {
	Replica string    `json:"replica"`
	Time    time.Time `json:"time,omitzero"`
	// Stream is "stdout" or "stderr" for a line.
	Stream string `json:"stream,omitempty"`
	Line   string `json:"line,omitempty"`
	// Event is LogJoined or LogLeft, with no line.
	Event string `json:"event,omitempty"`
	// Error says that a replica's stream broke, or the whole stream did
	// (Replica empty); the other replicas' lines go on.
	Error string `json:"error,omitempty"`
}

// LogStream writes records to emit until the logs end, ctx ends, or emit
// fails.
type LogStream func(ctx context.Context, emit func(LogRecord) error) error

// LogsBackend is the part of a Backend that reads replicas' logs.
type LogsBackend interface {
	// Logs checks the spec and the replicas asked for, and returns the
	// stream, so that a wrong name is an error before anything streams.
	Logs(ctx context.Context, name string, opts LogsOptions) (LogStream, error)
}

// logBuffer is how many records may wait between the backend and a slow
// client; beyond it the backend, and through it the Engine, waits.
const logBuffer = 256

func registerLogs(mux *http.ServeMux, b LogsBackend, log logr.Logger) {
	mux.HandleFunc("GET /v1/specs/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		opts, err := parseLogsQuery(r.URL.Query())
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		stream, err := b.Logs(r.Context(), r.PathValue("name"), opts)
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		serveLogStream(r.Context(), w, stream)
	})
}

// serveLogStream writes records as JSON lines, flushing whenever no
// record waits: at once when quiet, in large writes under load.
func serveLogStream(ctx context.Context, w http.ResponseWriter, stream LogStream) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	records := make(chan LogRecord, logBuffer)
	done := make(chan error, 1)
	go func() {
		done <- stream(ctx, func(rec LogRecord) error {
			select {
			case records <- rec:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		close(records)
	}()
	flusher := http.NewResponseController(w)
	_ = flusher.Flush()
	enc := json.NewEncoder(w)
	for rec := range records {
		if err := enc.Encode(rec); err != nil {
			cancel() // the client went away
			continue
		}
		if len(records) == 0 {
			_ = flusher.Flush()
		}
	}
	if err := <-done; err != nil && ctx.Err() == nil {
		_ = enc.Encode(LogRecord{Error: err.Error()})
	}
	_ = flusher.Flush()
}

func parseLogsQuery(q url.Values) (LogsOptions, error) {
	opts := LogsOptions{Replicas: q["replica"], Tail: -1}
	opts.LoadBalancer, _ = strconv.ParseBool(q.Get("lb"))
	opts.Follow, _ = strconv.ParseBool(q.Get("follow"))
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return opts, fmt.Errorf("%w: since=%q is not an RFC 3339 time", ErrInvalid, s)
		}
		opts.Since = t
	}
	if s := q.Get("tail"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return opts, fmt.Errorf("%w: tail=%q is not a number", ErrInvalid, s)
		}
		opts.Tail = n
	}
	return opts, nil
}

// maxLogRecordBytes bounds one record read by the client: a line of
// docker.MaxLogLineBytes, escaped as JSON, fits with room.
const maxLogRecordBytes = 1 << 20

// Logs streams the logs of a spec's replicas to fn, record by record,
// until they end (or, following, until ctx ends). An error of fn stops
// the stream and is returned.
func (c *Client) Logs(ctx context.Context, name string, opts LogsOptions, fn func(LogRecord) error) error {
	q := url.Values{}
	for _, r := range opts.Replicas {
		q.Add("replica", r)
	}
	if opts.LoadBalancer {
		q.Set("lb", "true")
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.Format(time.RFC3339Nano))
	}
	if opts.Tail >= 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/specs/"+url.PathEscape(name)+"/logs?"+q.Encode(), nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxLogRecordBytes)
	for sc.Scan() {
		var rec LogRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("decoding scalerd's log stream: %w", err)
		}
		if rec.Replica == "" && rec.Error != "" {
			return fmt.Errorf("log stream: %s", rec.Error)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return nil // the user stopped following
		}
		return fmt.Errorf("reading scalerd's log stream: %w", err)
	}
	return nil
}
