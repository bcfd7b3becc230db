package controlapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// RolloutRevision is one entry of `scalectl rollout history`.
type RolloutRevision struct {
	Revision int64             `json:"revision"`
	Hash     string            `json:"hash"`
	Current  bool              `json:"current"`
	Created  time.Time         `json:"created"`
	Template v1alpha1.Template `json:"template"`
}

// UndoRequest is the body of a rollout undo: 0 means the previous revision.
type UndoRequest struct {
	ToRevision int64 `json:"toRevision"`
}

// UndoResult says which revision's template was written back.
type UndoResult struct {
	Revision int64 `json:"revision"`
}

// RolloutBackend is the part of a Backend that steers rollouts.
type RolloutBackend interface {
	RolloutHistory(ctx context.Context, name string) ([]RolloutRevision, error)
	// RolloutUndo writes an earlier revision's template into the spec file.
	RolloutUndo(ctx context.Context, name string, toRevision int64) (UndoResult, error)
	// RolloutRestart replaces every replica, one by one, with no change of
	// template.
	RolloutRestart(ctx context.Context, name string) error
	// Sync re-reads the spec directory now, so that a file saved a moment
	// ago is in force before `rollout status` judges the rollout by it.
	Sync(ctx context.Context) error
}

func registerRollout(mux *http.ServeMux, b RolloutBackend, log logr.Logger) {
	mux.HandleFunc("GET /v1/specs/{name}/rollout/history", func(w http.ResponseWriter, r *http.Request) {
		revs, err := b.RolloutHistory(r.Context(), r.PathValue("name"))
		reply(w, log, revs, err)
	})
	mux.HandleFunc("POST /v1/specs/{name}/rollout/undo", func(w http.ResponseWriter, r *http.Request) {
		var req UndoRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			reply(w, log, nil, fmt.Errorf("%w: undo body: %v", ErrInvalid, err))
			return
		}
		res, err := b.RolloutUndo(r.Context(), r.PathValue("name"), req.ToRevision)
		reply(w, log, res, err)
	})
	mux.HandleFunc("POST /v1/sync", func(w http.ResponseWriter, r *http.Request) {
		reply(w, log, struct{}{}, b.Sync(r.Context()))
	})
	mux.HandleFunc("POST /v1/specs/{name}/rollout/restart", func(w http.ResponseWriter, r *http.Request) {
		reply(w, log, struct{}{}, b.RolloutRestart(r.Context(), r.PathValue("name")))
	})
}

// RolloutHistory lists a spec's revisions, oldest first.
func (c *Client) RolloutHistory(ctx context.Context, name string) ([]RolloutRevision, error) {
	var out []RolloutRevision
	return out, c.do(ctx, http.MethodGet, "/v1/specs/"+url.PathEscape(name)+"/rollout/history", nil, &out)
}

// RolloutUndo goes back to revision toRevision, or the previous one for 0.
func (c *Client) RolloutUndo(ctx context.Context, name string, toRevision int64) (UndoResult, error) {
	body, _ := json.Marshal(UndoRequest{ToRevision: toRevision})
	var out UndoResult
	return out, c.do(ctx, http.MethodPost, "/v1/specs/"+url.PathEscape(name)+"/rollout/undo", body, &out)
}

// RolloutRestart replaces a spec's replicas one by one.
func (c *Client) RolloutRestart(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/specs/"+url.PathEscape(name)+"/rollout/restart", nil, nil)
}

// Sync asks scalerd to re-read its spec directory now.
func (c *Client) Sync(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/sync", nil, nil)
}
