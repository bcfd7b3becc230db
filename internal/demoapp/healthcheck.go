package demoapp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// DefaultProbeTimeout bounds `demoapp healthcheck`; it stays under the
// HEALTHCHECK timeout of the image so that Docker sees our exit code rather
// than killing the probe.
const DefaultProbeTimeout = 2 * time.Second

// Probe GETs url and succeeds only on a 200 within timeout. It backs the
// image's HEALTHCHECK, which cannot use curl: the image has no shell or tools.
func Probe(ctx context.Context, url string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("health probe: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("health probe: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("health probe: GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	return body, nil
}
