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
	done chan error
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
	p := &serverProcess{cmd: cmd, logs: &lockedBuffer{}, done: make(chan error, 1)}
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
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { p.Stop(t) })
	select {
	case p.URL = <-urls:
	case err := <-p.done:
		t.Fatalf("switchboard serve exited: %v\n%s", err, p.logs.String())
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
// kills it if it does not within 30 s.
func (p *serverProcess) Stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
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
