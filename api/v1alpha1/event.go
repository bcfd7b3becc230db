package v1alpha1

import "time"

// Event types, as Kubernetes has them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event reports something scalerd did or saw. Repeats of the same event
// are folded into one with a count, as Kubernetes folds them.
type Event struct {
	Type           string    `json:"type"`
	Reason         string    `json:"reason"`
	Spec           string    `json:"spec"`
	Object         string    `json:"object"`
	Message        string    `json:"message"`
	Count          int       `json:"count"`
	FirstTimestamp time.Time `json:"firstTimestamp"`
	LastTimestamp  time.Time `json:"lastTimestamp"`
}

// ReplicaInfo is one observed replica as scalectl describe shows it.
type ReplicaInfo struct {
	Name         string    `json:"name"`
	ID           string    `json:"id"`
	Role         string    `json:"role"`
	State        string    `json:"state"`
	Health       string    `json:"health,omitempty"`
	TemplateHash string    `json:"templateHash,omitempty"`
	Revision     string    `json:"revision,omitempty"`
	InUpstream   bool      `json:"inUpstream"`
	Draining     bool      `json:"draining,omitempty"`
	Created      time.Time `json:"created"`
}
