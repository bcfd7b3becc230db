// Package controlapi is scalerd's control API: JSON over HTTP on a unix
// socket (mode 0600, so only the socket's owner can steer the daemon).
// server.go serves it over a Backend; client.go is what scalectl uses.
package controlapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Errors a Backend returns, which travel as HTTP status codes so that
// clients can branch on them with errors.Is.
var (
	// ErrNotFound: no spec of that name.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request or the spec it carries is invalid.
	ErrInvalid = errors.New("invalid")
)

// ApplyResult says what apply did with one spec, in kubectl's words:
// created, configured or unchanged.
type ApplyResult struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	// Plan is, for a dry run, the steps scalerd would take to bring what
	// runs to the applied spec (controllers.Reconciler.Preview).
	Plan []string `json:"plan,omitempty"`
}

// ScaleRequest is the body of a scale call.
type ScaleRequest struct {
	Replicas int32 `json:"replicas"`
}

// BoundsRequest is the body of a call that changes an autoscaled spec's
// minReplicas and maxReplicas; an absent one stays.
type BoundsRequest struct {
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	MaxReplicas *int32 `json:"maxReplicas,omitempty"`
}

// Backend does what the API asks; the daemon implements it over the spec
// store and the controller.
type Backend interface {
	List(ctx context.Context) ([]v1alpha1.ScaleSpec, error)
	Get(ctx context.Context, name string) (*v1alpha1.ScaleSpec, error)
	Replicas(ctx context.Context, name string) ([]v1alpha1.ReplicaInfo, error)
	Apply(ctx context.Context, docs []byte, dryRun bool) ([]ApplyResult, error)
	Scale(ctx context.Context, name string, replicas int32) error
	// SetAutoscalingBounds changes spec.autoscaling's minReplicas and
	// maxReplicas in the spec's file; nil leaves one as it is.
	SetAutoscalingBounds(ctx context.Context, name string, minReplicas, maxReplicas *int32) error
	Delete(ctx context.Context, name string) error
	Events(ctx context.Context, spec string) ([]v1alpha1.Event, error)
	RolloutBackend
	TopBackend
	LogsBackend
	ExecBackend
	VersionBackend
}

// errorBody is how errors travel.
type errorBody struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// DefaultSocketPath is where scalerd listens and scalectl calls unless
// told otherwise: SCALER_SOCKET, else a per-user runtime directory.
func DefaultSocketPath() string {
	if p := os.Getenv("SCALER_SOCKET"); p != "" {
		return p
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "scaler", "scalerd.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("scaler-%d", os.Getuid()), "scalerd.sock")
}
