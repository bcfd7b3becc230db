package docker

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"
)

func frame(stream byte, payload string) []byte {
	hdr := make([]byte, 8)
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(payload)))
	return append(hdr, payload...)
}

func TestFrameLinesReadsTimestampedLinesOfBothStreams(t *testing.T) {
	var stream bytes.Buffer
	stream.Write(frame(1, "2026-01-02T03:04:05.123456789Z hello\n"))
	stream.Write(frame(2, "2026-01-02T03:04:06Z oops\n"))
	stream.Write(frame(1, "no stamp here\n"))
	stream.Write(frame(1, "2026-01-02T03:04:07Z "+strings.Repeat("x", MaxLogLineBytes+100)))
	r := newFrameLines(io.NopCloser(&stream))

	l, err := r.Next()
	if err != nil || l.Text != "hello" || l.Stream != "stdout" || l.Time.Nanosecond() != 123456789 {
		t.Fatalf("first line %+v, %v", l, err)
	}
	l, err = r.Next()
	if err != nil || l.Text != "oops" || l.Stream != "stderr" {
		t.Fatalf("second line %+v, %v", l, err)
	}
	prev := l.Time
	l, err = r.Next()
	if err != nil || l.Text != "no stamp here" || !l.Time.Equal(prev) {
		t.Fatalf("a line without a stamp keeps the previous time: %+v, %v", l, err)
	}
	l, err = r.Next()
	if err != nil || !strings.HasSuffix(l.Text, truncatedMark) || len(l.Text) > MaxLogLineBytes+len(truncatedMark) {
		t.Fatalf("long line: %d bytes, %v", len(l.Text), err)
	}
	if !l.Time.Equal(time.Date(2026, 1, 2, 3, 4, 7, 0, time.UTC)) {
		t.Errorf("long line's time %v", l.Time)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("end: %v, want io.EOF", err)
	}
}

func TestFrameLinesRejectsARawStream(t *testing.T) {
	r := newFrameLines(io.NopCloser(strings.NewReader("2026-01-02T03:04:05Z raw tty output\n")))
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "TTY") {
		t.Errorf("err = %v", err)
	}
}

func TestEngineTimeKeepsNanoseconds(t *testing.T) {
	if got := engineTime(time.Unix(1700000000, 5)); got != "1700000000.000000005" {
		t.Errorf("engineTime = %q", got)
	}
}
