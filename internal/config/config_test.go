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
		c.SessionIdleTimeout != 2*time.Hour || c.SessionLifetime != 24*time.Hour || c.LogFormat != "text" || c.BaseURL != nil || c.DatabaseWait != 30*time.Second || c.HeartbeatTTL != time.Minute ||
		c.DatabaseConnections != 32 {
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
		{nil, []string{"--database-connections", "3"}, "--database-connections: must be a whole number from 4 to 1000"},
		{map[string]string{"SWITCHBOARD_DATABASE_CONNECTIONS": "many"}, nil, "SWITCHBOARD_DATABASE_CONNECTIONS: must be a whole number"},
		{nil, []string{"--log-format", "xml"}, "must be text or json"},
		{nil, []string{"--addr", "127.0.0.1:99999"}, "port"},
		{map[string]string{"SWITCHBOARD_METRICS_TOKEN": "short"}, nil, "SWITCHBOARD_METRICS_TOKEN: must be at least 16 characters"},
		{map[string]string{"SWITCHBOARD_SMTP_URL": "smtps://mail.example.com?from=a@example.com"}, nil, "SWITCHBOARD_SMTP_URL: must start with smtp://"},
		{map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://mail.example.com"}, nil, "SWITCHBOARD_SMTP_URL: needs the sender's address"},
		{map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://mail.example.com?from=nobody"}, nil, "is not an e-mail address"},
		{map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://mail.example.com?from=a@example.com&tls=ssl"}, nil, "must be starttls, tls or none"},
		{map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://mail.example.com:0?from=a@example.com"}, nil, "is not a number"},
		{map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://?from=a@example.com"}, nil, "names no host"},
		{nil, []string{"--smtp-url", "smtp://mail.example.com?from=a@example.com&sender=b"}, "--smtp-url: unknown parameter"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "https://AC1:tok@api.twilio.com?from=%2B15551234567"}, nil, "SWITCHBOARD_SMS_URL: must start with twilio://"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://api.twilio.com?from=%2B15551234567"}, nil, "needs the account SID and auth token"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1@api.twilio.com?from=%2B15551234567"}, nil, "needs the account SID and auth token"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1:tok@?from=%2B15551234567"}, nil, "names no host"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1:tok@api.twilio.com"}, nil, "needs the sender"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1:tok@api.twilio.com?from=555-0123"}, nil, "neither an E.164 number"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1:tok@api.twilio.com?from=%2B0123"}, nil, "is not an E.164 number"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1:tok@api.twilio.com?messaging_service=MG1"}, nil, "is not a messaging service SID"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1:tok@api.twilio.com?from=Switchboard&messaging_service=MG0123456789abcdef0123456789abcdef"}, nil, "not both"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio+http://AC1:tok@sms.example.com?from=%2B15551234567"}, nil, "only for a provider on this machine"},
		{map[string]string{"SWITCHBOARD_SMS_URL": "twilio://AC1:tok@api.twilio.com:0?from=%2B15551234567"}, nil, "is not a number"},
		{nil, []string{"--sms-url", "twilio://AC1:tok@api.twilio.com?from=%2B15551234567&to=%2B1"}, "--sms-url: unknown parameter \"to\""},
		{nil, []string{"--heartbeat-ttl", "500ms"}, "--heartbeat-ttl: must be a duration of at least 1s"},
		{map[string]string{"SWITCHBOARD_HEARTBEAT_TTL": "soon"}, nil, "SWITCHBOARD_HEARTBEAT_TTL: must be a duration"},
		{map[string]string{"SWITCHBOARD_TEMPLATES_DIR": "/no/such/dir"}, nil, "SWITCHBOARD_TEMPLATES_DIR: /no/such/dir is not a directory"},
	} {
		_, err := load(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want %q", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestMetricsToken(t *testing.T) {
	const secret = "s3cret-metrics-token"
	c, err := load(t, map[string]string{"SWITCHBOARD_METRICS_TOKEN": secret})
	if err != nil || c.MetricsToken != secret {
		t.Fatalf("token %q (%v)", c.MetricsToken, err)
	}
	// A bad one is refused without being repeated in the message.
	_, err = load(t, nil, "--metrics-token", "has a space in it")
	if err == nil || strings.Contains(err.Error(), "space in") {
		t.Errorf("error %v, want a refusal that does not quote the token", err)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := load(t, nil, "--log-format", "xml", "--log-level", "loud")
	if err == nil || !strings.Contains(err.Error(), "--log-format") || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("error %v, want both flags named", err)
	}
}

func TestSMTP(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := load(t, map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://ops%40example.com:s3cret@mail.example.com?from=Ops+%3Cops@example.com%3E&tls=tls"})
		if err != nil {
			t.Fatal(err)
		}
		want := config.SMTP{Host: "mail.example.com", Port: 465, Username: "ops@example.com", Password: "s3cret", From: "Ops <ops@example.com>", TLS: "tls"}
		if c.SMTP == nil || *c.SMTP != want {
			t.Errorf("SMTP = %+v, want %+v", c.SMTP, want)
		}
	})
	t.Run("DefaultsToSTARTTLS", func(t *testing.T) {
		c, err := load(t, map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://mail.example.com?from=ops@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if c.SMTP.TLS != "starttls" || c.SMTP.Port != 587 || c.SMTP.Username != "" {
			t.Errorf("SMTP = %+v, want starttls on 587 without a user", c.SMTP)
		}
	})
	t.Run("NamedSender", func(t *testing.T) {
		c, err := load(t, map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://user:pass@mail.example.com:587?from=Switchboard%20<ops@example.com>&tls=starttls"})
		if err != nil || c.SMTP.From != "Switchboard <ops@example.com>" {
			t.Errorf("SMTP = %+v, %v; want the sender with its name", c.SMTP, err)
		}
	})
	t.Run("Unset", func(t *testing.T) {
		c, err := load(t, nil)
		if err != nil || c.SMTP != nil {
			t.Errorf("SMTP = %+v, %v; want nil", c.SMTP, err)
		}
	})
	t.Run("ErrorHidesPassword", func(t *testing.T) {
		_, err := load(t, map[string]string{"SWITCHBOARD_SMTP_URL": "smtp://u:hunter2@mail.example.com:99999?from=a@example.com"})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %v: want one without the password", err)
		}
	})
}

func TestSMS(t *testing.T) {
	const sid, token = "AC0123456789abcdef0123456789abcdef", "s3cret-auth-token"
	for _, tc := range []struct {
		name, url string
		want      config.SMS
		base      string
	}{
		{"Twilio", "twilio://" + sid + ":" + token + "@api.twilio.com?from=%2B15551234567",
			config.SMS{AccountSID: sid, AuthToken: token, From: "+15551234567"}, "https://api.twilio.com"},
		{"PlusAsWritten", "twilio://" + sid + ":" + token + "@api.twilio.com?from=+1 555 123 4567",
			config.SMS{AccountSID: sid, AuthToken: token, From: "+15551234567"}, "https://api.twilio.com"},
		{"SenderID", "twilio://" + sid + ":" + token + "@api.twilio.com?from=Switchboard",
			config.SMS{AccountSID: sid, AuthToken: token, From: "Switchboard"}, "https://api.twilio.com"},
		{"MessagingService", "twilio://" + sid + ":" + token + "@api.twilio.com?messaging_service=MG0123456789abcdef0123456789abcdef",
			config.SMS{AccountSID: sid, AuthToken: token, MessagingServiceSID: "MG0123456789abcdef0123456789abcdef"}, "https://api.twilio.com"},
		{"CompatibleWithPrefix", "twilio://project-id:" + token + "@example.signalwire.com:8443/api/laml/?from=%2B15551234567",
			config.SMS{AccountSID: "project-id", AuthToken: token, From: "+15551234567"}, "https://example.signalwire.com:8443/api/laml"},
		{"PlainHTTPOnLoopback", "twilio+http://" + sid + ":" + token + "@127.0.0.1:4010?from=%2B15551234567",
			config.SMS{AccountSID: sid, AuthToken: token, From: "+15551234567"}, "http://127.0.0.1:4010"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, map[string]string{"SWITCHBOARD_SMS_URL": tc.url})
			if err != nil {
				t.Fatal(err)
			}
			got := *c.SMS
			base := got.BaseURL.String()
			got.BaseURL = nil
			if got != tc.want || base != tc.base {
				t.Errorf("SMS = %+v on %s, want %+v on %s", got, base, tc.want, tc.base)
			}
		})
	}
	t.Run("Unset", func(t *testing.T) {
		c, err := load(t, nil)
		if err != nil || c.SMS != nil {
			t.Errorf("SMS = %+v, %v; want nil", c.SMS, err)
		}
	})
	t.Run("ErrorHidesToken", func(t *testing.T) {
		for _, v := range []string{"twilio://" + sid + ":" + token + "@api.twilio.com:99999?from=%2B1", "twilio://" + sid + ":" + token + "@api.twilio.com/%zz",
			"twilio+http://" + sid + ":" + token + "@sms.example.com?from=%2B15551234567"} {
			_, err := load(t, map[string]string{"SWITCHBOARD_SMS_URL": v})
			if err == nil || strings.Contains(err.Error(), token) {
				t.Errorf("error %v: want one without the token", err)
			}
		}
	})
}
