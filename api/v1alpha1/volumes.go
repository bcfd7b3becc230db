package v1alpha1

import (
	"fmt"
	"path"
	"strings"
)

// VolumeName is the Docker volume of a spec's named volume: SPEC-NAME, as
// compose names a project's volumes after the project.
func VolumeName(spec, volume string) string {
	return spec + "-" + volume
}

// reservedMountRoots are the kernel's file systems in a container: a
// volume over one would hide what the app and Docker rely on.
var reservedMountRoots = []string{"/proc", "/sys", "/dev"}

// validateVolumes checks template.volumes: named volumes only, each name
// and each mount path once, every path absolute and clean.
func (t *Template) validateVolumes(errs *ErrorList, templatePath string) {
	names := map[string]int{}
	paths := map[string]int{}
	readOnlyRoot := t.ReadOnlyRootFilesystem != nil && *t.ReadOnlyRootFilesystem
	for i, v := range t.Volumes {
		at := fmt.Sprintf("%s.volumes[%d]", templatePath, i)
		switch {
		case v.Name == "":
			errs.addf(at+".name", `required: a name like "data"; the Docker volume is the spec's name, '-', and this`)
		case len(v.Name) > 63 || !dns1123Label.MatchString(v.Name):
			errs.addf(at+".name", "%q is not a valid volume name; use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", truncate(v.Name))
		default:
			if first, dup := names[v.Name]; dup {
				errs.addf(at+".name", "%q is used twice; the first is %s.volumes[%d]", v.Name, templatePath, first)
			} else {
				names[v.Name] = i
			}
		}
		p := v.MountPath
		switch {
		case p == "":
			errs.addf(at+".mountPath", `required: where the replicas see the volume, an absolute path like "/var/lib/redis"`)
		case strings.ContainsRune(p, 0) || strings.ContainsAny(p, ":,"):
			errs.addf(at+".mountPath", "%q holds a NUL, ':' or ','; write a plain absolute path", truncate(p))
		case !path.IsAbs(p):
			errs.addf(at+".mountPath", "%q is not an absolute path; start it with '/', like %q", truncate(p), "/"+strings.TrimLeft(p, "./"))
		case path.Clean(p) != p:
			errs.addf(at+".mountPath", "%q is not a clean path; write %q", truncate(p), path.Clean(p))
		case p == "/":
			errs.addf(at+".mountPath", `"/" would hide the image's whole file system; mount the volume on a directory, like "/data"`)
		case reservedMount(p) != "":
			errs.addf(at+".mountPath", "%q is under %s, the kernel's; mount the volume elsewhere, like \"/data\"", p, reservedMount(p))
		case readOnlyRoot && (p == "/tmp" || strings.HasPrefix(p, "/tmp/")):
			errs.addf(at+".mountPath", "%q is in /tmp, where readOnlyRootFilesystem mounts a tmpfs; mount the volume elsewhere, like \"/data\"", p)
		default:
			if first, dup := paths[p]; dup {
				errs.addf(at+".mountPath", "%q is mounted twice; the first is %s.volumes[%d]", p, templatePath, first)
			} else {
				paths[p] = i
			}
		}
	}
}

// reservedMount returns the reserved root that p is or is under, or "".
func reservedMount(p string) string {
	for _, root := range reservedMountRoots {
		if p == root || strings.HasPrefix(p, root+"/") {
			return root
		}
	}
	return ""
}
