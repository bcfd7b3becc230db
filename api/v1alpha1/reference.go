package v1alpha1

import (
	"regexp"
	"strings"
)

// referencePattern is the grammar of an image reference, as
// github.com/distribution/reference defines it, written out here so that
// the API package needs no module beyond the standard library:
//
//	reference := name [ ":" tag ] [ "@" digest ]
//	name      := [ domain "/" ] path-component [ "/" path-component ]*
var referencePattern = func() *regexp.Regexp {
	const (
		alphanumeric    = `[a-z0-9]+`
		separator       = `(?:[._]|__|[-]+)`
		pathComponent   = alphanumeric + `(?:` + separator + alphanumeric + `)*`
		domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		domainName      = domainComponent + `(?:\.` + domainComponent + `)*`
		ipv6            = `\[(?:[a-fA-F0-9:]+)\]`
		domain          = `(?:` + domainName + `|` + ipv6 + `)(?::[0-9]+)?`
		tag             = `[\w][\w.-]{0,127}`
		digest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
		name            = `(?:` + domain + `/)?` + pathComponent + `(?:/` + pathComponent + `)*`
	)
	return regexp.MustCompile(`^` + name + `(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

// maxImageNameLength is Docker's limit on the name part of a reference.
const maxImageNameLength = 255

// validImageReference reports whether s is an image reference Docker would
// accept, like "demoapp:dev", "redis", "registry.example.com:5000/team/app:1.2"
// or "app@sha256:<hex>".
func validImageReference(s string) bool {
	if !referencePattern.MatchString(s) {
		return false
	}
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return len(name) <= maxImageNameLength
}
