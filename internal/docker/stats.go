package docker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/docker/docker/api/types/container"

	"github.com/scaler-dev/scaler/engine"
)

// Stats samples a container's CPU and memory use once. It asks for a
// non-streamed sample without "one-shot": the Engine then waits for a second
// reading (about a second) so that the previous-CPU fields are filled and a
// rate can be computed, as `docker stats --no-stream` does. A stopped
// container reports zeros.
func (r *Runtime) Stats(ctx context.Context, id string) (engine.Stats, error) {
	resp, err := r.client.ContainerStats(ctx, id, false)
	if err != nil {
		return engine.Stats{}, fmt.Errorf("stats of container %s: %w", id, classify(err))
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return engine.Stats{}, fmt.Errorf("stats of container %s: decode: %w", id, err)
	}
	return engine.Stats{
		CPUPercent:  cpuPercent(s),
		MemoryBytes: memoryUsage(s.MemoryStats),
		MemoryLimit: s.MemoryStats.Limit,
	}, nil
}

// cpuPercent is the docker CLI's formula: the container's share of all CPU
// time between the two readings, scaled by the CPU count, so that 100 means
// one full core.
func cpuPercent(s container.StatsResponse) float64 {
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	systemDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		// Engines before API 1.27 only report per-CPU usage.
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpuDelta <= 0 || systemDelta <= 0 {
		return 0
	}
	return cpuDelta / systemDelta * online * 100
}

// memoryUsage leaves out the page cache the kernel can reclaim (inactive
// files), as the docker CLI does; otherwise a replica that merely read
// files would look close to its limit.
func memoryUsage(m container.MemoryStats) uint64 {
	// cgroup v1 reports the hierarchy total; v2 only inactive_file.
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	if v, ok := m.Stats["inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	return m.Usage
}
