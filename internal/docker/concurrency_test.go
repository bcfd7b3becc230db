package docker

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/engine"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// TestEngineCreateStartConcurrency measures where more concurrent creates
// and starts stop helping on this Engine: the wall time to create and
// start engineBenchReplicas containers with at most k calls in flight, for
// several k, in alternating rounds. It is a measurement, not a check: it
// runs only with SCALER_ENGINE_BENCH=1 and logs a table (BENCHMARKS.md,
// "How many Engine calls at once").
func TestEngineCreateStartConcurrency(t *testing.T) {
	if os.Getenv("SCALER_ENGINE_BENCH") != "1" {
		t.Skip("a measurement: set SCALER_ENGINE_BENCH=1")
	}
	const engineBenchReplicas = 24
	r := requireEngine(t)
	ctx := context.Background()
	netName := testNetwork(t, r)
	limits := []int{1, 2, 4, 8, 16, 32}
	times := map[int][]time.Duration{}
	for round := range 2 {
		for _, k := range limits {
			if round == 1 {
				k = limits[len(limits)-1-slicesIndex(limits, k)] // the other way round
			}
			ids := make([]string, engineBenchReplicas)
			errs := make([]error, engineBenchReplicas)
			slots := make(chan struct{}, k)
			var wg sync.WaitGroup
			start := time.Now()
			for i := range engineBenchReplicas {
				wg.Add(1)
				slots <- struct{}{}
				go func() {
					defer func() { <-slots; wg.Done() }()
					spec := engine.ContainerSpec{Name: testenv.Name(t, fmt.Sprintf("conc%d-%d", k, i)), Image: testImage, Labels: testLabels(t), Network: netName}
					id, err := r.CreateContainer(ctx, spec)
					if err == nil {
						err = r.StartContainer(ctx, id)
					}
					ids[i], errs[i] = id, err
				}()
			}
			wg.Wait()
			took := time.Since(start)
			for i, err := range errs {
				if err != nil {
					t.Errorf("k=%d: replica %d: %v", k, i, err)
				}
			}
			times[k] = append(times[k], took)
			t.Logf("round %d: %d creates+starts with at most %d in flight: %v", round+1, engineBenchReplicas, k, took.Round(time.Millisecond))
			for _, id := range ids {
				if id != "" {
					_ = r.RemoveContainer(ctx, id)
				}
			}
			time.Sleep(2 * time.Second)
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| calls in flight | rounds | mean | per container |\n| ---: | --- | ---: | ---: |\n")
	for _, k := range limits {
		var all []string
		var sum time.Duration
		for _, d := range times[k] {
			all = append(all, d.Round(10*time.Millisecond).String())
			sum += d
		}
		mean := sum / time.Duration(len(times[k]))
		fmt.Fprintf(&table, "| %d | %s | %v | %v |\n", k, strings.Join(all, ", "), mean.Round(10*time.Millisecond), (mean / engineBenchReplicas).Round(time.Millisecond))
	}
	t.Logf("create and start of %d containers:\n%s", engineBenchReplicas, table.String())
}

func slicesIndex(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
