package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/notify/smstest"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// lockedBuffer is an io.Writer safe to read while the server writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// environ returns a getenv over the given variables only, so that the
// developer's own SWITCHBOARD_* settings never leak into a test.
func environ(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// runCmd runs one command to completion.
func runCmd(t *testing.T, getenv func(string) string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

var listenRE = regexp.MustCompile(`"?url"?[=:]"?(https?://[0-9.:]+)`)

// startServer runs `switchboard serve` in the background and returns its base
// URL once /readyz answers, and a function that stops it and returns run's
// error.
func startServer(t *testing.T, getenv func(string) string, args ...string) (string, func() error) {
	t.Helper()
	return startServerLogging(t, &lockedBuffer{}, getenv, args...)
}

// startServerLogging is startServer writing the server's log to logs.
func startServerLogging(t *testing.T, logs *lockedBuffer, getenv func(string) string, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), io.Discard, logs)
	}()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(logs.String()); m != nil {
			if res, err := client.Get(m[1] + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					stop := func() error {
						cancel()
						select {
						case err := <-done:
							return err
						case <-time.After(30 * time.Second):
							return errors.New("server did not stop")
						}
					}
					t.Cleanup(func() { cancel() })
					return m[1], stop
				}
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("server exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server not ready in time:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestEndToEnd boots the real binary's run() on every engine, creates a user
// and a token with the command line, and calls the API with the token.
func TestEndToEnd(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			getenv := environ("SWITCHBOARD_DATABASE_URL", sqlstoretest.URL(t, engine), "SWITCHBOARD_LOG_FORMAT", "json")
			base, stop := startServer(t, getenv)

			out, errOut, err := runCmd(t, getenv, testPassword+"\n", "user", "create", "--email", "ops@example.com", "--name", "Ops Admin", "--role", "admin", "--password-stdin")
			if err != nil {
				t.Fatalf("user create: %v\n%s", err, errOut)
			}
			if !strings.Contains(out, "Created admin Ops Admin <ops@example.com>") {
				t.Errorf("user create printed %q", out)
			}
			token, errOut, err := runCmd(t, getenv, "", "token", "create", "--email", "OPS@example.com", "--name", "e2e", "--expires", "30d")
			if err != nil {
				t.Fatalf("token create: %v\n%s", err, errOut)
			}
			token = strings.TrimSpace(token)
			if !strings.HasPrefix(token, "sbp_") || !strings.Contains(errOut, "shown only this once") {
				t.Fatalf("token create printed %q / %q", token, errOut)
			}

			status, body := get(t, base+"/api/v1/me", token)
			if status != http.StatusOK || !strings.Contains(body, `"email":"ops@example.com"`) {
				t.Fatalf("GET /api/v1/me = %d %s", status, body)
			}
			if status, _ := get(t, base+"/api/v1/me", ""); status != http.StatusUnauthorized {
				t.Errorf("without a token: %d, want 401", status)
			}
			if err := stop(); err != nil {
				t.Errorf("graceful shutdown: %v", err)
			}
		})
	}
}

// TestServeDefaults: with no configuration at all, serve uses
// sqlite:switchboard.db in the working directory.
func TestServeDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	base, stop := startServer(t, environ())
	if status, _ := get(t, base+"/healthz", ""); status != http.StatusOK {
		t.Errorf("/healthz = %d", status)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "switchboard.db")); err != nil {
		t.Errorf("no switchboard.db in the working directory: %v", err)
	}
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile := writeSelfSignedCert(t)
	getenv := environ("SWITCHBOARD_DATABASE_URL", sqlstoretest.URL(t, sqlstore.SQLite))
	base, stop := startServer(t, getenv, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base URL %s", base)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/signin", nil)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS under TLS")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func writeSelfSignedCert(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

const testPassword = "correct horse battery"

func TestCommandLineErrors(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	getenv := environ("SWITCHBOARD_DATABASE_URL", db)
	var usage *usageError
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
		usage bool
	}{
		{"NoCommand", nil, "", "no command given", true},
		{"UnknownCommand", []string{"frobnicate"}, "", `unknown command "frobnicate"`, true},
		{"UnknownFlag", []string{"serve", "--colour"}, "", "flag provided but not defined: --colour", true},
		{"BadAddr", []string{"serve", "--addr", "nowhere"}, "", "--addr: must be host:port", true},
		{"BadDuration", []string{"serve", "--session-idle-timeout", "soon"}, "", "--session-idle-timeout: must be a positive duration", true},
		{"TLSHalf", []string{"serve", "--tls-cert", "/dev/null"}, "", "--tls-cert and --tls-key must be given together", true},
		{"BadLogLevel", []string{"serve", "--log-level", "loud"}, "", "--log-level: must be debug, info, warn or error", true},
		{"BadTemplatesDir", []string{"serve", "--templates-dir", "/no/such/dir"}, "", "--templates-dir: /no/such/dir is not a directory", true},
		{"BadMigrateAction", []string{"migrate", "down"}, "", `unknown action "down"`, true},
		{"UserMissingFlags", []string{"user", "create", "--email", "a@example.com"}, "", "--name, --role required", true},
		{"UserBadRole", []string{"user", "create", "--email", "a@example.com", "--name", "A", "--role", "boss"}, "", "--role must be admin, supervisor or agent", true},
		{"UserNoTerminal", []string{"user", "create", "--email", "a@example.com", "--name", "A", "--role", "agent"}, "", "--password-stdin", true},
		{"UserShortPassword", []string{"user", "create", "--email", "a@example.com", "--name", "A", "--role", "agent", "--password-stdin"}, "short\n", "at least 12 characters", false},
		{"UserCommonPassword", []string{"user", "create", "--email", "a@example.com", "--name", "A", "--role", "admin", "--password-stdin"}, "qwertyuiopasdfgh\n", "too common", false},
		{"UserRepeatedPassword", []string{"user", "create", "--email", "a@example.com", "--name", "A", "--role", "admin", "--password-stdin"}, "            \n", "only spaces", false},
		{"UserBadEmail", []string{"user", "create", "--email", "nope", "--name", "A", "--role", "agent", "--password-stdin"}, testPassword + "\n", "valid e-mail address", false},
		{"TokenUnknownUser", []string{"token", "create", "--email", "ghost@example.com"}, "", "No user has the e-mail address ghost@example.com", false},
		{"TokenBadExpiry", []string{"token", "create", "--email", "a@example.com", "--expires", "tomorrow"}, "", "--expires", true},
		{"UserUnknownSubcommand", []string{"user", "delete"}, "", `unknown subcommand "delete"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, getenv, tc.stdin, tc.args...)
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if got := errors.As(err, &usage); got != tc.usage {
				t.Errorf("usage error = %v, want %v (%v)", got, tc.usage, err)
			}
		})
	}
	t.Run("EnvironmentErrorNamesVariable", func(t *testing.T) {
		_, _, err := runCmd(t, environ("SWITCHBOARD_ADDR", "bad"), "", "serve")
		if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_ADDR: must be host:port") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("FlagWinsOverEnvironment", func(t *testing.T) {
		_, _, err := runCmd(t, environ("SWITCHBOARD_ADDR", "bad", "SWITCHBOARD_LOG_LEVEL", "loud"), "", "serve", "--addr", "127.0.0.1:0", "--log-level", "nope")
		if err == nil || strings.Contains(err.Error(), "SWITCHBOARD_ADDR") || !strings.Contains(err.Error(), "--log-level") {
			t.Errorf("error %v", err)
		}
	})
}

func TestServeRefusesBrokenTemplates(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "task_offered.sms.txt")
	if err := os.WriteFile(file, []byte("Task {{.TaskTitle"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel() // should the server start after all
	getenv := environ("SWITCHBOARD_DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "t.db"), "SWITCHBOARD_TEMPLATES_DIR", dir)
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_TEMPLATES_DIR") || !strings.Contains(err.Error(), file) {
		t.Errorf("error %v, want one naming the variable and %s", err, file)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"user", "--help"}, {"user", "create", "--help"},
		{"token", "create", "--help"}, {"version", "--help"}, {"openapi", "-h"}, {"loadtest", "--help"},
	} {
		out, _, err := runCmd(t, environ(), "", args...)
		if err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(out, "Usage") {
			t.Errorf("%v printed %q", args, out)
		}
	}
	out, _, _ := runCmd(t, environ(), "", "serve", "--help")
	for _, want := range []string{"--addr ADDRESS", "SWITCHBOARD_ADDR", "--database", "SWITCHBOARD_DATABASE_URL", "default 127.0.0.1:8080"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out)
		}
	}
}

func TestMigrateAndVersion(t *testing.T) {
	getenv := environ("SWITCHBOARD_DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	out, _, err := runCmd(t, getenv, "", "migrate", "status")
	if err != nil || !strings.Contains(out, "pending") {
		t.Fatalf("status before: %v %s", err, out)
	}
	out, _, err = runCmd(t, getenv, "", "migrate", "up")
	if err != nil || !strings.Contains(out, "Applied") {
		t.Fatalf("up: %v %s", err, out)
	}
	out, _, err = runCmd(t, getenv, "", "migrate")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("second up: %v %s", err, out)
	}
	out, _, err = runCmd(t, getenv, "", "migrate", "status")
	if err != nil || !strings.Contains(out, "applied") || !strings.Contains(out, "0 pending") {
		t.Fatalf("status after: %v %s", err, out)
	}
	// Flags may come after the action as well as before it.
	other := "sqlite:" + filepath.Join(t.TempDir(), "other.db")
	out, _, err = runCmd(t, environ(), "", "migrate", "up", "--database", other)
	if err != nil || !strings.Contains(out, "Applied") {
		t.Fatalf("up --database: %v %s", err, out)
	}
	out, _, err = runCmd(t, environ(), "", "migrate", "--database", other, "status", "--database", other)
	if err != nil || !strings.Contains(out, "0 pending") {
		t.Fatalf("--database status --database: %v %s", err, out)
	}
	if _, _, err := runCmd(t, environ(), "", "migrate", "up", "--databse", other); err == nil || !strings.Contains(err.Error(), "--databse") {
		t.Errorf("a misspelt flag after the action: %v", err)
	}
	if _, _, err := runCmd(t, environ(), "", "migrate", "up", "status"); err == nil || !strings.Contains(err.Error(), "too many arguments") {
		t.Errorf("two actions: %v", err)
	}
	// After "--" nothing is a flag.
	if _, _, err := runCmd(t, environ(), "", "migrate", "--database", other, "--", "--database"); err == nil || !strings.Contains(err.Error(), `unknown action "--database"`) {
		t.Errorf("a flag after --: %v", err)
	}
	out, _, err = runCmd(t, getenv, "", "version")
	if err != nil || !strings.HasPrefix(out, "switchboard ") {
		t.Fatalf("version: %v %s", err, out)
	}
	out, _, err = runCmd(t, getenv, "", "openapi")
	if err != nil || !strings.Contains(out, "openapi: 3.1.0") {
		t.Fatalf("openapi: %v %.100s", err, out)
	}
}

// TestServeSMS: with a text message provider configured, serve starts
// sending text messages, and its log names the account but never the token.
func TestServeSMS(t *testing.T) {
	const sid, token = "AC0123456789abcdef0123456789abcdef", "s3cret-auth-token"
	api := smstest.Start(t, sid, token)
	logs := &lockedBuffer{}
	getenv := environ("SWITCHBOARD_DATABASE_URL", sqlstoretest.URL(t, sqlstore.SQLite),
		"SWITCHBOARD_SMS_URL", "twilio+http://"+sid+":"+token+"@"+strings.TrimPrefix(api.URL, "http://")+"?from=+15551234567")
	_, stop := startServerLogging(t, logs, getenv)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); !strings.Contains(out, "sending text messages") || !strings.Contains(out, sid) || strings.Contains(out, token) {
		t.Errorf("log without the sender's start, or with the token:\n%s", out)
	}
}
