package docker

import (
	"context"
	"fmt"
	"strings"

	"github.com/scaler-dev/scaler/engine"
)

// maxProbeOutput bounds the health-check output kept for a status message:
// Docker keeps up to 4 KiB per probe, and a condition is read in a
// terminal.
const maxProbeOutput = 300

// LastProbe returns the newest entry of the container's health log, as
// `docker inspect` shows it under State.Health.Log.
func (r *Runtime) LastProbe(ctx context.Context, id string) (engine.ProbeResult, error) {
	inspect, err := r.client.ContainerInspect(ctx, id)
	if err != nil {
		return engine.ProbeResult{}, fmt.Errorf("inspect container %s: %w", id, classify(err))
	}
	if inspect.State == nil || inspect.State.Health == nil || len(inspect.State.Health.Log) == 0 {
		return engine.ProbeResult{}, fmt.Errorf("container %s has run no health check yet: %w", id, engine.ErrNotFound)
	}
	last := inspect.State.Health.Log[len(inspect.State.Health.Log)-1]
	return engine.ProbeResult{ExitCode: last.ExitCode, Output: clip(strings.TrimSpace(last.Output), maxProbeOutput), End: last.End}, nil
}

// clip shortens s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
