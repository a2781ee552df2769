package main

import (
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/sqlstore"
	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// closedPort returns an address on this machine where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeGivesUpOnAnUnreachableDatabase: a database server that does not
// answer is tried again, each attempt logged, until --database-wait runs
// out; then serve fails saying so.
func TestServeGivesUpOnAnUnreachableDatabase(t *testing.T) {
	for _, scheme := range []string{"postgres", "mysql"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			database := scheme + "://switchboard@" + closedPort(t) + "/switchboard"
			const wait = 1500 * time.Millisecond
			start := time.Now()
			_, logs, err := runCmd(t, environ(), "", "serve", "--addr", "127.0.0.1:0", "--database", database,
				"--database-wait", wait.String())
			elapsed := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), "gave up after") {
				t.Fatalf("serve returned %v, want it to give up on the database", err)
			}
			if elapsed < wait || elapsed > wait+3*time.Second {
				t.Errorf("gave up after %s, want about %s", elapsed, wait)
			}
			if n := strings.Count(logs, "database not reachable yet"); n < 3 || !strings.Contains(logs, "attempt=1 ") {
				t.Errorf("%d attempts logged, want one per attempt, at least 3:\n%s", n, logs)
			}
		})
	}

	t.Run("NoWait", func(t *testing.T) {
		start := time.Now()
		_, logs, err := runCmd(t, environ(), "", "serve", "--addr", "127.0.0.1:0",
			"--database", "postgres://switchboard@"+closedPort(t)+"/switchboard", "--database-wait", "0")
		if err == nil || time.Since(start) > 2*time.Second || strings.Contains(logs, "not reachable yet") {
			t.Errorf("with --database-wait 0: %v after %s, logs:\n%s", err, time.Since(start), logs)
		}
	})
}

// TestServeWaitsForTheDatabase: a database server that comes up while serve
// waits for it is used as soon as it answers.
func TestServeWaitsForTheDatabase(t *testing.T) {
	u, err := url.Parse(sqlstoretest.URL(t, sqlstore.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	u.Host = closedPort(t)
	// The "database" starts listening half a second late, as a proxy to the
	// real one.
	listening := make(chan net.Listener, 1)
	t.Cleanup(func() {
		if ln := <-listening; ln != nil {
			ln.Close()
		}
	})
	go func() {
		time.Sleep(500 * time.Millisecond)
		ln, err := net.Listen("tcp", u.Host)
		listening <- ln
		if err != nil {
			t.Error(err)
			return
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(s, c) }()
				_, _ = io.Copy(c, s)
			}()
		}
	}()
	base, stop := startServer(t, environ("SWITCHBOARD_DATABASE_URL", u.String(), "SWITCHBOARD_DATABASE_WAIT", "20s"))
	if status, _ := get(t, base+"/readyz", ""); status != 200 {
		t.Errorf("/readyz = %d", status)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
