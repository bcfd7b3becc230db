package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go runs scalerd on.
const clockTicks = 100

// ProcSample is a process's memory and CPU use at one moment.
type ProcSample struct {
	At time.Time
	// RSS is VmRSS, the resident set now; Peak is VmHWM, the highest RSS
	// since the process started or since ResetPeak.
	RSS, Peak int64
	// CPU is user plus system time used since the process started.
	CPU time.Duration
}

// ReadProc reads pid's memory from /proc/<pid>/status and CPU time from
// /proc/<pid>/stat.
func ReadProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			s.RSS = kb * 1024
		case "VmHWM:":
			s.Peak = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are fixed: utime and stime are the 12th and 13th.
	rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	s.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	return s, nil
}

// ResetPeak sets pid's VmHWM back to its current RSS (clear_refs 5), so
// that a peak is the peak of what follows.
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o200)
}

// Usage is a process's footprint over a span of time.
type Usage struct {
	Seconds float64 `json:"seconds"`
	// RSSMB is VmRSS at the end; PeakRSSMB the highest RSS seen in the
	// span (VmHWM after a reset, or the highest 100 ms sample).
	RSSMB     float64 `json:"rssMB"`
	PeakRSSMB float64 `json:"peakRssMB"`
	// CPUSeconds is user+system time used in the span; CPUPercent is it
	// over the span's wall time (100% is one core).
	CPUSeconds float64 `json:"cpuSeconds"`
	CPUPercent float64 `json:"cpuPercent"`
}

// Watch samples pid every 100 ms until the returned function is called,
// which returns the usage over the span.
func Watch(pid int) (func() (Usage, error), error) {
	if err := ResetPeak(pid); err != nil {
		return nil, fmt.Errorf("resetting the peak RSS of %d: %w", pid, err)
	}
	first, err := ReadProc(pid)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	peak := first.RSS
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if s, err := ReadProc(pid); err == nil {
					mu.Lock()
					peak = max(peak, s.RSS, s.Peak)
					mu.Unlock()
				}
			}
		}
	}()
	return func() (Usage, error) {
		cancel()
		<-done
		last, err := ReadProc(pid)
		if err != nil {
			return Usage{}, err
		}
		mu.Lock()
		defer mu.Unlock()
		span := last.At.Sub(first.At)
		cpu := last.CPU - first.CPU
		return Usage{Seconds: span.Seconds(), RSSMB: mb(last.RSS), PeakRSSMB: mb(max(peak, last.RSS, last.Peak)),
			CPUSeconds: cpu.Seconds(), CPUPercent: 100 * cpu.Seconds() / span.Seconds()}, nil
	}, nil
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// DockerEvent is one event of the Engine's stream, as `docker events
// --format '{{json .}}'` prints it.
type DockerEvent struct {
	Action string `json:"Action"`
	ID     string `json:"id"`
	Time   time.Time
	Name   string
}

// DockerEvents returns the container events between since and until (in
// the Engine's nanosecond times) that match filters ("label=k=v", ...).
func DockerEvents(ctx context.Context, since, until time.Time, filters ...string) ([]DockerEvent, error) {
	args := []string{"events", "--since", unixNano(since), "--until", unixNano(until), "--filter", "type=container", "--format", "{{json .}}"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	out, err := Docker(ctx, args...)
	if err != nil {
		return nil, err
	}
	return parseEvents(out)
}

// parseEvents reads the lines of `docker events --format '{{json .}}'`.
func parseEvents(out string) ([]DockerEvent, error) {
	var events []DockerEvent
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var raw struct {
			Action   string `json:"Action"`
			ID       string `json:"id"`
			TimeNano int64  `json:"timeNano"`
			Actor    struct {
				Attributes map[string]string `json:"Attributes"`
			} `json:"Actor"`
		}
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			return nil, fmt.Errorf("docker events: %q: %w", line, err)
		}
		events = append(events, DockerEvent{Action: raw.Action, ID: raw.ID, Time: time.Unix(0, raw.TimeNano), Name: raw.Actor.Attributes["name"]})
	}
	return events, nil
}

// unixNano spells t as docker events' --since wants a precise time.
func unixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// WatchStarts records, from its return on, when the containers that
// filters select start. The Engine keeps only its last 256 events for a
// later `docker events --since` query, too few for a 50-replica scale-up
// with its health checks, so the stream is read as it comes. stop ends it
// and returns the times.
func WatchStarts(ctx context.Context, filters ...string) (stop func() []time.Time, err error) {
	args := []string{"events", "--filter", "type=container", "--filter", "event=start", "--format", "{{json .}}"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, "docker", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("docker events: %w", err)
	}
	var mu sync.Mutex
	var times []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if evs, err := parseEvents(sc.Text()); err == nil {
				mu.Lock()
				for _, e := range evs {
					times = append(times, e.Time)
				}
				mu.Unlock()
			}
		}
	}()
	// The CLI subscribes after it starts; a start before that would be
	// missed.
	time.Sleep(500 * time.Millisecond)
	return func() []time.Time {
		cancel()
		<-done
		_ = cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(times)
	}, nil
}
