package demoapp

import (
	"strings"
	"testing"
	"time"
)

func envOf(kv map[string]string) LookupFunc {
	return func(key string) (string, bool) {
		v, ok := kv[key]
		return v, ok
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(envOf(nil), "07ef452d3d91")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := Config{
		Port:                  5000,
		RedisAddr:             "redis:6379",
		RedisTimeout:          250 * time.Millisecond,
		Hostname:              "07ef452d3d91",
		ContainerID:           "07ef452d3d91",
		InstanceName:          "app-07ef452d3d91",
		Greeting:              "Hello from scaler demoapp",
		LoadTestIterations:    DefaultLoadTestIterations,
		MaxLoadTestIterations: DefaultMaxLoadTestIterations,
		MaxSlow:               30 * time.Second,
		ShutdownTimeout:       10 * time.Second,
		LogFormat:             "text",
	}
	if cfg != want {
		t.Errorf("LoadConfig() =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr []string // substrings the error must contain; nil means success
	}{
		{
			name:  "port and instance",
			env:   map[string]string{"PORT": "8080", "INSTANCE_NAME": "web-1", "GREETING": "hi"},
			check: func(c Config) bool { return c.Port == 8080 && c.InstanceName == "web-1" && c.Greeting == "hi" },
		},
		{
			name:  "empty values fall back to defaults",
			env:   map[string]string{"PORT": "", "INSTANCE_NAME": "  "},
			check: func(c Config) bool { return c.Port == 5000 && c.InstanceName == "app-host" },
		},
		{
			name: "durations as Go durations or bare seconds",
			env:  map[string]string{"SHUTDOWN_TIMEOUT": "3", "REDIS_TIMEOUT": "100ms", "SLOW_MAX": "2m"},
			check: func(c Config) bool {
				return c.ShutdownTimeout == 3*time.Second && c.RedisTimeout == 100*time.Millisecond && c.MaxSlow == 2*time.Minute
			},
		},
		{
			name:  "redis password taken as written, spaces and all",
			env:   map[string]string{"REDIS_PASSWORD": " s3cret pass "},
			check: func(c Config) bool { return c.RedisPassword == " s3cret pass " },
		},
		{
			name:  "no redis password unless set",
			env:   map[string]string{"REDIS_ADDR": "redis:6379"},
			check: func(c Config) bool { return c.RedisPassword == "" },
		},
		{
			name:  "ipv6 redis address",
			env:   map[string]string{"REDIS_ADDR": "[::1]:6380"},
			check: func(c Config) bool { return c.RedisAddr == "[::1]:6380" },
		},
		{name: "log format", env: map[string]string{"LOG_FORMAT": "xml"}, wantErr: []string{`LOG_FORMAT: "xml" is not one of text, json`}},
		{name: "port not a number", env: map[string]string{"PORT": "abc"}, wantErr: []string{`PORT: "abc" is not a port number`}},
		{name: "port too large", env: map[string]string{"PORT": "70000"}, wantErr: []string{`PORT: "70000"`}},
		{name: "port zero", env: map[string]string{"PORT": "0"}, wantErr: []string{"PORT:"}},
		{name: "redis without port", env: map[string]string{"REDIS_ADDR": "redis"}, wantErr: []string{`REDIS_ADDR: "redis" is not host:port`}},
		{name: "redis bad port", env: map[string]string{"REDIS_ADDR": "redis:x"}, wantErr: []string{"REDIS_ADDR:"}},
		{name: "bad duration", env: map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, wantErr: []string{`SHUTDOWN_TIMEOUT: "soon" is not a duration`}},
		{name: "negative duration", env: map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, wantErr: []string{"SHUTDOWN_TIMEOUT: -1s is out of range"}},
		{name: "redis timeout zero", env: map[string]string{"REDIS_TIMEOUT": "0s"}, wantErr: []string{"REDIS_TIMEOUT:"}},
		{name: "iterations not positive", env: map[string]string{"LOAD_TEST_ITERATIONS": "-5"}, wantErr: []string{"LOAD_TEST_ITERATIONS:"}},
		{
			name:    "iterations above their cap",
			env:     map[string]string{"LOAD_TEST_ITERATIONS": "100", "LOAD_TEST_MAX_ITERATIONS": "10"},
			wantErr: []string{"LOAD_TEST_ITERATIONS: 100 exceeds LOAD_TEST_MAX_ITERATIONS"},
		},
		{
			name:    "every error is reported at once",
			env:     map[string]string{"PORT": "abc", "REDIS_ADDR": "nope", "SLOW_MAX": "x"},
			wantErr: []string{"PORT:", "REDIS_ADDR:", "SLOW_MAX:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(envOf(tt.env), "host")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("LoadConfig: unexpected error: %v", err)
				}
				if !tt.check(cfg) {
					t.Errorf("LoadConfig() = %+v: check failed", cfg)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadConfig() = %+v, want an error", cfg)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
