package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The binary under test, built once per test run for the tests that need
// several server processes on one database.
var built struct {
	once sync.Once
	path string
	err  error
}

// buildBinary builds cmd/switchboard into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = &buildError{out: string(out), err: err}
		}
	})
	if built.err != nil {
		t.Fatalf("build switchboard: %v", built.err)
	}
	return built.path
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// serverProcess is `switchboard serve` running as a process of its own.
type serverProcess struct {
	URL  string
	cmd  *exec.Cmd
	logs *lockedBuffer
	// done is closed when the process has exited, with its exit in err.
	done chan struct{}
	err  error
}

// startProcess starts `switchboard serve` on a free loopback port with the
// given environment (added to a clean one) and waits until /readyz answers.
func startProcess(t *testing.T, env ...string) *serverProcess {
	t.Helper()
	bin := buildBinary(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, logs: &lockedBuffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop(t) })
	select {
	case p.URL = <-urls:
	case <-p.done:
		t.Fatalf("switchboard serve exited: %v\n%s", p.err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("switchboard serve did not start:\n%s", p.logs.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchboard serve not ready:\n%s", p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop asks the process to shut down, as an operator's SIGTERM does, and
// kills it if it does not within 30 s. A process that has exited already,
// killed or crashed, is left as it is.
func (p *serverProcess) Stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("switchboard serve did not stop on SIGTERM:\n%s", p.logs.String())
	}
}

// Kill ends the process with SIGKILL, as a crash or the kernel's OOM
// killer would: no shutdown, no goodbye to the database, transactions cut
// off wherever they are. It returns once the process is gone.
func (p *serverProcess) Kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		select {
		case <-p.done:
			return // it had exited already
		default:
			t.Fatalf("kill switchboard serve: %v", err)
		}
	}
	<-p.done
}

// apiCall makes one API call with a bearer token and returns the status.
func apiCall(t *testing.T, method, url, token, body string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// migratedWithAdmin migrates the database at dbURL and makes its first
// admin with the command line, as an operator would; it returns the
// environment of further commands and the admin's API token.
func migratedWithAdmin(t *testing.T, dbURL string) (getenv func(string) string, admin string) {
	t.Helper()
	getenv = environ("SWITCHBOARD_DATABASE_URL", dbURL)
	if _, errOut, err := runCmd(t, getenv, "", "migrate", "up"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut)
	}
	return getenv, createAdmin(t, getenv)
}

// createAdmin makes the admin ops@example.com with the command line and
// returns an API token of theirs.
func createAdmin(t *testing.T, getenv func(string) string) string {
	t.Helper()
	if _, errOut, err := runCmd(t, getenv, testPassword+"\n", "user", "create", "--email", "ops@example.com", "--name", "Ops", "--role", "admin", "--password-stdin"); err != nil {
		t.Fatalf("user create: %v\n%s", err, errOut)
	}
	out, errOut, err := runCmd(t, getenv, "", "token", "create", "--email", "ops@example.com")
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut)
	}
	return strings.TrimSpace(out)
}
