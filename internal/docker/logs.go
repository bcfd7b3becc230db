package docker

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/scaler-dev/scaler/internal/replicaio"
)

// MaxLogLineBytes bounds one log line kept in memory; the rest of a longer
// line is skipped and the line marked as cut. The Engine itself splits
// messages at 16 KiB, so this only cuts a broken stream's garbage.
const MaxLogLineBytes = 64 << 10

// truncatedMark ends a line cut at MaxLogLineBytes.
const truncatedMark = " [cut by scalerd: longer than 64 KiB]"

// Logs opens the log of one container, stdout and stderr, each line with
// the Engine's timestamp. scaler's containers have no TTY, so the Engine
// sends the log as multiplexed frames, one per line. The caller names a
// container it listed with ListManaged: Logs does not look at labels.
func (r *Runtime) Logs(ctx context.Context, id string, o replicaio.LogOptions) (replicaio.LineReader, error) {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: o.Follow, Tail: "all"}
	if o.Tail >= 0 {
		opts.Tail = strconv.Itoa(o.Tail)
	}
	if !o.Since.IsZero() {
		opts.Since = engineTime(o.Since)
	}
	if !o.Until.IsZero() {
		opts.Until = engineTime(o.Until)
	}
	rc, err := r.client.ContainerLogs(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("logs of container %s: %w", id, classify(err))
	}
	return newFrameLines(rc), nil
}

// engineTime writes t as the Engine's since/until parameters take it, in
// seconds with nanoseconds, so that no line is lost or repeated at a bound.
func engineTime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// frameLines reads the Engine's multiplexed log stream: frames of an
// 8-byte header (stream, 3 zero bytes, big-endian size) and a payload of
// one timestamped line.
type frameLines struct {
	r      *bufio.Reader
	closer io.Closer
	header [8]byte
	// last is the time of the previous line, given to a line whose
	// timestamp does not parse, so that merging keeps it in place.
	last time.Time
}

func newFrameLines(rc io.ReadCloser) *frameLines {
	return &frameLines{r: bufio.NewReaderSize(rc, 32<<10), closer: rc}
}

func (f *frameLines) Close() error { return f.closer.Close() }

func (f *frameLines) Next() (replicaio.Line, error) {
	if _, err := io.ReadFull(f.r, f.header[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return replicaio.Line{}, fmt.Errorf("log stream cut inside a frame header")
		}
		return replicaio.Line{}, err // io.EOF: the log ended
	}
	stream := "stdout"
	switch f.header[0] {
	case 1:
	case 2:
		stream = "stderr"
	default:
		return replicaio.Line{}, fmt.Errorf("log stream: unexpected frame type %d (a container with a TTY?)", f.header[0])
	}
	size := int64(binary.BigEndian.Uint32(f.header[4:]))
	keep := min(size, MaxLogLineBytes)
	buf := make([]byte, keep)
	if _, err := io.ReadFull(f.r, buf); err != nil {
		return replicaio.Line{}, fmt.Errorf("log stream cut inside a line: %w", err)
	}
	cut := false
	if size > keep {
		if _, err := io.CopyN(io.Discard, f.r, size-keep); err != nil {
			return replicaio.Line{}, fmt.Errorf("log stream cut inside a line: %w", err)
		}
		cut = true
	}
	line := parseLogLine(string(buf), f.last)
	line.Stream = stream
	if cut {
		line.Text += truncatedMark
	}
	f.last = line.Time
	return line, nil
}

// parseLogLine splits "2006-01-02T15:04:05.999999999Z text\n" into time and
// text. A line without a timestamp gets prev, keeping it in order.
func parseLogLine(s string, prev time.Time) replicaio.Line {
	s = strings.TrimSuffix(s, "\n")
	stamp, text, ok := strings.Cut(s, " ")
	if ok {
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			return replicaio.Line{Time: t, Text: text}
		}
	}
	return replicaio.Line{Time: prev, Text: s}
}
