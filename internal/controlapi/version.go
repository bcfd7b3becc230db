package controlapi

import (
	"context"
	"net/http"

	"github.com/go-logr/logr"
)

// BuildInfo is the version of a scaler binary, read from the build
// information the Go toolchain embeds.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// EngineInfo is the container engine scalerd drives.
type EngineInfo struct {
	// Kind is the engine scalerd drives: "docker".
	Kind          string `json:"kind"`
	Version       string `json:"version"`
	APIVersion    string `json:"apiVersion"`
	MinAPIVersion string `json:"minAPIVersion,omitempty"`
	// NegotiatedAPIVersion is the API version scalerd speaks to it.
	NegotiatedAPIVersion string `json:"negotiatedAPIVersion"`
	Platform             string `json:"platform,omitempty"`
}

// VersionInfo answers a version call.
type VersionInfo struct {
	Daemon BuildInfo `json:"daemon"`
	// Instance is the daemon's --instance, which labels its containers.
	Instance string     `json:"instance,omitempty"`
	Engine   EngineInfo `json:"engine"`
	// EngineError says why the engine's version is missing.
	EngineError string `json:"engineError,omitempty"`
}

// VersionBackend is the part of a Backend that reports versions.
type VersionBackend interface {
	Version(ctx context.Context) (VersionInfo, error)
}

func registerVersion(mux *http.ServeMux, b VersionBackend, log logr.Logger) {
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Version(r.Context())
		reply(w, log, v, err)
	})
}

// Version returns the daemon's and the engine's versions.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var out VersionInfo
	return out, c.do(ctx, http.MethodGet, "/v1/version", nil, &out)
}
