package v1alpha1

// Labels that mark every object scalerd owns. scalerd lists by these and
// never touches a container without LabelManagedBy=ManagedByValue.
const (
	LabelPrefix       = "scaler.dev/"
	LabelManagedBy    = LabelPrefix + "managed-by"
	LabelSpec         = LabelPrefix + "spec"
	LabelRole         = LabelPrefix + "role"
	LabelReplica      = LabelPrefix + "replica"
	LabelTemplateHash = LabelPrefix + "template-hash"
	// LabelRevision is the rollout revision of the template a replica runs.
	LabelRevision = LabelPrefix + "revision"
	// LabelInstance names the scalerd that owns an object (its --instance
	// flag), so that two daemons on one engine (a test run beside a stack
	// started by make run) never adopt or remove each other's containers.
	LabelInstance = LabelPrefix + "instance"
	// LabelConfigHash is the hash of the load balancer's container-level
	// settings (image, address); a change recreates the nginx container.
	LabelConfigHash = LabelPrefix + "config-hash"
	// LabelVolume is a named volume's name within its spec
	// (template.volumes[].name); the Docker volume is SPEC-NAME.
	LabelVolume = LabelPrefix + "volume"

	ManagedByValue = "scalerd"
	RoleApp        = "app"
	RoleLB         = "lb"
)
