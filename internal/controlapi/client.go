package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// ErrDaemonNotRunning means nothing answers on the socket.
var ErrDaemonNotRunning = errors.New("scalerd is not running")

// Client calls scalerd over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// List returns every spec with its status.
func (c *Client) List(ctx context.Context) ([]v1alpha1.ScaleSpec, error) {
	var out []v1alpha1.ScaleSpec
	return out, c.do(ctx, http.MethodGet, "/v1/specs", nil, &out)
}

// Get returns one spec with its status.
func (c *Client) Get(ctx context.Context, name string) (*v1alpha1.ScaleSpec, error) {
	var out v1alpha1.ScaleSpec
	if err := c.do(ctx, http.MethodGet, "/v1/specs/"+url.PathEscape(name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Replicas returns the containers of a spec.
func (c *Client) Replicas(ctx context.Context, name string) ([]v1alpha1.ReplicaInfo, error) {
	var out []v1alpha1.ReplicaInfo
	return out, c.do(ctx, http.MethodGet, "/v1/specs/"+url.PathEscape(name)+"/replicas", nil, &out)
}

// Apply sends YAML documents to be written into the spec directory.
func (c *Client) Apply(ctx context.Context, docs []byte, dryRun bool) ([]ApplyResult, error) {
	var out []ApplyResult
	path := "/v1/apply"
	if dryRun {
		path += "?dryRun=true"
	}
	return out, c.do(ctx, http.MethodPost, path, docs, &out)
}

// Scale sets a spec's replicas.
func (c *Client) Scale(ctx context.Context, name string, replicas int32) error {
	body, _ := json.Marshal(ScaleRequest{Replicas: replicas})
	return c.do(ctx, http.MethodPost, "/v1/specs/"+url.PathEscape(name)+"/scale", body, nil)
}

// SetAutoscalingBounds changes an autoscaled spec's minReplicas and
// maxReplicas; nil leaves one as it is.
func (c *Client) SetAutoscalingBounds(ctx context.Context, name string, minReplicas, maxReplicas *int32) error {
	body, _ := json.Marshal(BoundsRequest{MinReplicas: minReplicas, MaxReplicas: maxReplicas})
	return c.do(ctx, http.MethodPost, "/v1/specs/"+url.PathEscape(name)+"/autoscaling", body, nil)
}

// Delete removes a spec; scalerd then drains and removes its containers.
func (c *Client) Delete(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/specs/"+url.PathEscape(name), nil, nil)
}

// Events returns recent events, of one spec or all.
func (c *Client) Events(ctx context.Context, spec string) ([]v1alpha1.Event, error) {
	var out []v1alpha1.Event
	return out, c.do(ctx, http.MethodGet, "/v1/events?spec="+url.QueryEscape(spec), nil, &out)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	resp, err := c.send(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading scalerd's answer: %w", err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding scalerd's answer: %w", err)
	}
	return nil
}

// send makes one call and returns the answer of a call that succeeded,
// body unread, for the caller to close; an error answer becomes the error.
func (c *Client) send(ctx context.Context, method, path string, body []byte, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://scalerd"+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: nothing listens on %s; start it with `make run` or `scalerd --socket %s`, or point --socket (or SCALER_SOCKET) at its socket",
				ErrDaemonNotRunning, c.socket, c.socket)
		}
		return nil, fmt.Errorf("calling scalerd on %s: %w", c.socket, err)
	}
	if resp.StatusCode < 300 { // 101 included: exec's upgraded stream
		return resp, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading scalerd's answer: %w", err)
	}
	var e errorBody
	if json.Unmarshal(data, &e) != nil || e.Error == "" {
		return nil, fmt.Errorf("scalerd answered %s", resp.Status)
	}
	switch e.Reason {
	case "NotFound":
		return nil, &remoteError{msg: e.Error, kind: ErrNotFound}
	case "Invalid":
		return nil, &remoteError{msg: e.Error, kind: ErrInvalid}
	}
	return nil, errors.New(e.Error)
}

// remoteError carries the daemon's message unchanged while matching the
// sentinel errors with errors.Is.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }
