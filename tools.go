//go:build tools

// This file pins modules that the packages being written will import, so
// that go mod tidy keeps them until they do.
package tools

import (
	_ "github.com/docker/docker/client"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/go-logr/logr"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/cobra"
	_ "github.com/tsenart/vegeta/v12/lib"
	_ "gopkg.in/yaml.v3"
	_ "sigs.k8s.io/yaml"
)
