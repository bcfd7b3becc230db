// Package metricsource reads the load that the autoscaler follows: the
// request counter of a spec's load balancer (nginx's stub_status), its
// replicas' CPU from the Engine, and the value of a Prometheus query.
package metricsource

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// StatusPath is the load balancer's stub_status page (internal/nginx).
const StatusPath = "/nginx-status"

// maxStatusBytes bounds what is read of a status page: stub_status
// writes about 100 bytes, and anything much larger is not it.
const maxStatusBytes = 4096

// StatusURL is where scalerd reads a spec's load balancer counters: its
// published port, on 127.0.0.1 when it listens on every address.
func StatusURL(lb *v1alpha1.LoadBalancer) string {
	host := lb.HostIP
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(int(lb.Port))) + StatusPath
}

// ReadRequests returns the requests counter of an nginx stub_status page:
// every request nginx has served since its master started (reloads keep
// it; a new container starts it again from 0).
func ReadRequests(ctx context.Context, client *http.Client, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading the load balancer's request counter: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("reading the load balancer's request counter: %s answered %s", url, resp.Status)
	}
	return ParseRequests(io.LimitReader(resp.Body, maxStatusBytes))
}

// ParseRequests reads the third number of the line after "server accepts
// handled requests":
//
//	Active connections: 2
//	server accepts handled requests
//	 16 16 31
//	Reading: 0 Writing: 1 Waiting: 1
func ParseRequests(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "server accepts handled requests" {
			continue
		}
		if !sc.Scan() {
			break
		}
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			break
		}
		n, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || n < 0 {
			break
		}
		return n, nil
	}
	return 0, errors.New("the status page is not nginx's stub_status (no \"server accepts handled requests\" counters)")
}
