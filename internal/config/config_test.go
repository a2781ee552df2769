package config_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/config"
)

func load(t *testing.T, env map[string]string, args ...string) (*config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	b := config.Bind(fs, config.ServerSettings)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return b.Load(func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DatabaseURL != "sqlite:switchboard.db" || !c.AutoMigrate || c.TLS() ||
		c.SessionIdleTimeout != 2*time.Hour || c.SessionLifetime != 24*time.Hour || c.LogFormat != "text" || c.BaseURL != nil || c.DatabaseWait != 30*time.Second || c.HeartbeatTTL != time.Minute {
		t.Errorf("defaults %+v", c)
	}
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	env := map[string]string{"SWITCHBOARD_ADDR": ":9000", "SWITCHBOARD_DATABASE_URL": "postgres://db/x", "SWITCHBOARD_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1"}
	c, err := load(t, env, "--addr", ":9100")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9100" || c.DatabaseURL != "postgres://db/x" || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.168.1.1/32" {
		t.Errorf("got %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"SWITCHBOARD_DATABASE_URL": "oracle://x"}, nil, "SWITCHBOARD_DATABASE_URL: must start with"},
		{map[string]string{"SWITCHBOARD_DATABASE_URL": "sqlite:"}, nil, "names no database"},
		{nil, []string{"--base-url", "example.com"}, "--base-url: must be an absolute"},
		{nil, []string{"--base-url", "https://example.com/app"}, "must not have a path"},
		{nil, []string{"--tls-cert", "/no/such/file", "--tls-key", "/no/such/key"}, "cannot read /no/such/file"},
		{nil, []string{"--session-lifetime", "1h", "--session-idle-timeout", "2h"}, "must not be shorter"},
		{nil, []string{"--trusted-proxies", "everyone"}, "not a network"},
		{nil, []string{"--migrate", "maybe"}, "must be true or false"},
		{nil, []string{"--database-wait", "-1s"}, "--database-wait: must be a duration"},
		{nil, []string{"--log-format", "xml"}, "must be text or json"},
		{nil, []string{"--addr", "127.0.0.1:99999"}, "port"},
		{nil, []string{"--heartbeat-ttl", "500ms"}, "--heartbeat-ttl: must be a duration of at least 1s"},
		{map[string]string{"SWITCHBOARD_HEARTBEAT_TTL": "soon"}, nil, "SWITCHBOARD_HEARTBEAT_TTL: must be a duration"},
	} {
		_, err := load(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want %q", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := load(t, nil, "--log-format", "xml", "--log-level", "loud")
	if err == nil || !strings.Contains(err.Error(), "--log-format") || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("error %v, want both flags named", err)
	}
}
