package controllers

import "github.com/scaler-dev/scaler/engine"

// The controller's names for the engine's types (package engine), so that
// the code that decides reads as before while the Docker adapter depends on
// engine alone, not on the controller.
type (
	Runtime       = engine.Runtime
	ProbeResult   = engine.ProbeResult
	Session       = engine.Session
	Capabilities  = engine.Capabilities
	Container     = engine.Container
	ContainerSpec = engine.ContainerSpec
	VolumeMount   = engine.VolumeMount
	HealthConfig  = engine.HealthConfig
	PortBinding   = engine.PortBinding
	ExecResult    = engine.ExecResult
	Event         = engine.Event
	Stats         = engine.Stats
)

// The engine's errors, states and health values.
var (
	ErrNotFound      = engine.ErrNotFound
	ErrConflict      = engine.ErrConflict
	ErrImageNotFound = engine.ErrImageNotFound
)

const (
	StateCreated    = engine.StateCreated
	StateRunning    = engine.StateRunning
	StateExited     = engine.StateExited
	StateDead       = engine.StateDead
	StateRestarting = engine.StateRestarting
	StatePaused     = engine.StatePaused
	StateRemoving   = engine.StateRemoving

	HealthNone      = engine.HealthNone
	HealthStarting  = engine.HealthStarting
	HealthHealthy   = engine.HealthHealthy
	HealthUnhealthy = engine.HealthUnhealthy
)
