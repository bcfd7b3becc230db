package metricsource

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxPrometheusBytes bounds an instant query's answer: one number is a few
// hundred bytes, and a query that returns a large vector is an error anyway.
const maxPrometheusBytes = 1 << 20

// QueryPrometheus runs an instant PromQL query and returns its one value:
// a scalar, or a vector of exactly one sample (what sum(...) returns).
// An empty vector (nothing matched, or no traffic yet for a rate) is an
// error, not 0: the autoscaler then holds the count rather than shrink it.
func QueryPrometheus(ctx context.Context, client *http.Client, server, query string) (float64, error) {
	u := strings.TrimRight(server, "/") + "/api/v1/query?" + url.Values{"query": {query}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("querying Prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPrometheusBytes))
	if err != nil {
		return 0, fmt.Errorf("querying Prometheus: %w", err)
	}
	var answer struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return 0, fmt.Errorf("querying Prometheus: %s answered %s, not the query API's JSON", server, resp.Status)
	}
	if answer.Status != "success" {
		return 0, fmt.Errorf("prometheus refused the query (%s): %s", answer.ErrorType, answer.Error)
	}
	var sample []any // [ <time>, "<value>" ]
	switch answer.Data.ResultType {
	case "scalar":
		if err := json.Unmarshal(answer.Data.Result, &sample); err != nil {
			return 0, fmt.Errorf("prometheus answered a malformed scalar: %w", err)
		}
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(answer.Data.Result, &vec); err != nil {
			return 0, fmt.Errorf("prometheus answered a malformed vector: %w", err)
		}
		if len(vec) != 1 {
			return 0, fmt.Errorf("the query returned %d series; it must return one number (wrap it in sum(...))", len(vec))
		}
		sample = vec[0].Value
	default:
		return 0, fmt.Errorf("the query returned a %s; it must return one number (a scalar, or sum(...) of a vector)", answer.Data.ResultType)
	}
	if len(sample) != 2 {
		return 0, fmt.Errorf("prometheus answered a malformed sample %v", sample)
	}
	text, _ := sample[1].(string)
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("the query's value %q is not a usage (a number, 0 or more)", text)
	}
	return v, nil
}
