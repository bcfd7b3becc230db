package bench

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// WaitOK polls url until it answers 200 or timeout passes. A reload or a
// restart of nginx returns before the new workers answer, so every
// measurement first waits for this.
func WaitOK(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s: %w", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
