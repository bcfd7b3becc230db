// Package demoapp is scaler's sample workload: the tutorial's Flask app in Go.
// It counts visits in Redis, reports which replica served each request, and
// keeps serving (degraded) while Redis is away, so that scaling, rollouts and
// drains can be observed from the outside through its responses alone.
package demoapp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of the environment variables LoadConfig reads. They match the
// tutorial's compose setup (Flask on 5000, Redis reachable as "redis").
const (
	DefaultPort                  = 5000
	DefaultRedisAddr             = "redis:6379"
	DefaultGreeting              = "Hello from scaler demoapp"
	DefaultRedisTimeout          = 250 * time.Millisecond
	DefaultShutdownTimeout       = 10 * time.Second
	DefaultLoadTestIterations    = 2_000_000
	DefaultMaxLoadTestIterations = 200_000_000
	DefaultMaxSlow               = 30 * time.Second
)

// Config is the whole run-time configuration of demoapp. It comes from the
// environment only, so that a ScaleSpec's env list is the one place to set it.
type Config struct {
	// Port is the TCP port the HTTP server listens on (all interfaces).
	Port int
	// RedisAddr is host:port of the Redis server that holds the counters.
	RedisAddr string
	// RedisPassword authenticates to Redis (AUTH) when set, so that the
	// Redis of a shared network need not serve every container on it. It
	// never appears in a log line or a response.
	RedisPassword string
	// RedisTimeout bounds each dial, read and write to Redis: a slow or absent
	// Redis must cost a request at most a few of these, never a hang.
	RedisTimeout time.Duration
	// Hostname is the container's hostname (its short id under Docker,
	// unless the hostname was set, as scalerd sets it to the replica name).
	Hostname string
	// ContainerID is the short container id, the hostname outside Docker.
	ContainerID string
	// InstanceName identifies this replica in responses and in the
	// requests:<instance> counter.
	InstanceName string
	// Greeting is the message of GET /.
	Greeting string
	// LoadTestIterations is the CPU work GET /load-test does by default.
	LoadTestIterations int
	// MaxLoadTestIterations caps ?iterations= so one request cannot pin a core
	// for long.
	MaxLoadTestIterations int
	// MaxSlow caps GET /slow?ms=.
	MaxSlow time.Duration
	// ShutdownTimeout is how long in-flight requests may run after SIGTERM.
	ShutdownTimeout time.Duration
	// LogFormat is "text" or "json".
	LogFormat string
}

// LookupFunc reads one environment variable; os.LookupEnv is one.
type LookupFunc func(key string) (string, bool)

// LoadConfig builds a Config from the environment. hostname is the machine's
// hostname (os.Hostname), used for served_by and the default instance name.
// Every invalid variable is reported, each error naming its variable.
func LoadConfig(lookup LookupFunc, hostname string) (Config, error) {
	p := envParser{lookup: lookup}
	cfg := Config{
		Port:                  p.port("PORT", DefaultPort),
		RedisAddr:             p.hostPort("REDIS_ADDR", DefaultRedisAddr),
		RedisPassword:         p.secret("REDIS_PASSWORD"),
		RedisTimeout:          p.duration("REDIS_TIMEOUT", DefaultRedisTimeout, time.Millisecond, 30*time.Second),
		Hostname:              hostname,
		InstanceName:          p.str("INSTANCE_NAME", ""),
		Greeting:              p.str("GREETING", DefaultGreeting),
		LoadTestIterations:    p.positiveInt("LOAD_TEST_ITERATIONS", DefaultLoadTestIterations),
		MaxLoadTestIterations: p.positiveInt("LOAD_TEST_MAX_ITERATIONS", DefaultMaxLoadTestIterations),
		MaxSlow:               p.duration("SLOW_MAX", DefaultMaxSlow, 0, time.Hour),
		ShutdownTimeout:       p.duration("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, 0, time.Hour),
		LogFormat:             p.oneOf("LOG_FORMAT", "text", "json"),
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "unknown"
	}
	if cfg.ContainerID == "" {
		cfg.ContainerID = cfg.Hostname
	}
	if cfg.InstanceName == "" {
		cfg.InstanceName = "app-" + cfg.Hostname
	}
	if cfg.LoadTestIterations > cfg.MaxLoadTestIterations && p.errs == nil {
		p.errs = append(p.errs, fmt.Errorf("LOAD_TEST_ITERATIONS: %d exceeds LOAD_TEST_MAX_ITERATIONS (%d)",
			cfg.LoadTestIterations, cfg.MaxLoadTestIterations))
	}
	if err := errors.Join(p.errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ParsePort parses a TCP port number, 1-65535.
func ParsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return n, nil
}

// envParser collects every error instead of stopping at the first, so that a
// user fixes a bad environment in one go.
type envParser struct {
	lookup LookupFunc
	errs   []error
}

func (p *envParser) get(key string) (string, bool) {
	v, ok := p.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return v, true
}

func (p *envParser) fail(key string, err error) {
	p.errs = append(p.errs, fmt.Errorf("%s: %w", key, err))
}

// secret reads a password as written: spaces may be part of it, so unlike
// str it trims nothing, and only an unset or empty variable means none.
func (p *envParser) secret(key string) string {
	v, _ := p.lookup(key)
	return v
}

func (p *envParser) str(key, def string) string {
	if v, ok := p.get(key); ok {
		return v
	}
	return def
}

// oneOf accepts one of values; the first is the default.
func (p *envParser) oneOf(key string, values ...string) string {
	v, ok := p.get(key)
	if !ok {
		return values[0]
	}
	for _, allowed := range values {
		if v == allowed {
			return v
		}
	}
	p.fail(key, fmt.Errorf("%q is not one of %s", v, strings.Join(values, ", ")))
	return values[0]
}

func (p *envParser) port(key string, def int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	n, err := ParsePort(v)
	if err != nil {
		p.fail(key, err)
	}
	return n
}

func (p *envParser) hostPort(key, def string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	i := strings.LastIndexByte(v, ':')
	if i <= 0 {
		p.fail(key, fmt.Errorf("%q is not host:port", v))
		return v
	}
	if _, err := ParsePort(v[i+1:]); err != nil {
		p.fail(key, fmt.Errorf("%q is not host:port: %w", v, err))
	}
	return v
}

func (p *envParser) positiveInt(key string, def int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		p.fail(key, fmt.Errorf("%q is not a positive integer", v))
	}
	return n
}

// duration accepts Go durations ("250ms", "10s") and, for convenience in
// compose-style files, a bare number of seconds ("10").
func (p *envParser) duration(key string, def, min, max time.Duration) time.Duration {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, convErr := strconv.Atoi(v)
		if convErr != nil {
			p.fail(key, fmt.Errorf("%q is not a duration (e.g. 250ms, 10s)", v))
			return def
		}
		d = time.Duration(secs) * time.Second
	}
	if d < min || d > max {
		p.fail(key, fmt.Errorf("%s is out of range [%s, %s]", d, min, max))
	}
	return d
}
