package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Components are the parts of a request's path whose CPU the throughput
// part splits, in the order the report shows them.
var Components = []string{"client", "docker-proxy", "nginx", "demoapp", "redis"}

// CPUShare is how much CPU each component spent per request during one
// round, in microseconds, and in all.
type CPUShare struct {
	Requests    int64              `json:"requests"`
	PerRequest  map[string]float64 `json:"microsecondsPerRequest"`
	TotalPerReq float64            `json:"totalMicrosecondsPerRequest"`
}

// ContainerPIDs returns the host PIDs of a container's processes.
func ContainerPIDs(ctx context.Context, name string) ([]int, error) {
	out, err := Docker(ctx, "top", name, "-eo", "pid")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("docker top %s: no processes", name)
	}
	return pids, nil
}

// ProxyPIDs returns the docker-proxy processes that carry a port published
// on the host.
func ProxyPIDs(hostPort int) ([]int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	want := []byte("\x00-host-port\x00" + strconv.Itoa(hostPort) + "\x00")
	var pids []int
	for _, d := range dirs {
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte("docker-proxy")) || !bytes.Contains(cmdline, want) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no docker-proxy for host port %d (is the userland proxy off?)", hostPort)
	}
	return pids, nil
}

// MeasureCPU runs round and returns each component's CPU time during it,
// from utime+stime of its processes before and after. A process that
// started or ended during the round counts for what it had when seen.
func MeasureCPU(pids map[string][]int, round func() int64) (CPUShare, error) {
	cpu := func() map[string]time.Duration {
		m := map[string]time.Duration{}
		for comp, ps := range pids {
			for _, pid := range ps {
				if s, err := ReadProc(pid); err == nil { // else gone: counts for what it had
					m[comp] += s.CPU
				}
			}
		}
		return m
	}
	before := cpu()
	requests := round()
	after := cpu()
	if requests <= 0 {
		return CPUShare{}, fmt.Errorf("no requests in the round")
	}
	share := CPUShare{Requests: requests, PerRequest: map[string]float64{}}
	for comp := range pids {
		us := float64(after[comp]-before[comp]) / float64(time.Microsecond) / float64(requests)
		share.PerRequest[comp] = us
		share.TotalPerReq += us
	}
	return share, nil
}
