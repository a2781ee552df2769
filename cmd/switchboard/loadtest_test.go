package main

import (
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/sqlstore/sqlstoretest"
)

// The load generator takes tasks through their whole lifecycle, with
// offers and without, and reports it; a few agents and a second suffice to
// show it works (its figures are measured by hand, never asserted).
func TestLoadtest(t *testing.T) {
	for _, engine := range sqlstoretest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			getenv := environ("SWITCHBOARD_DATABASE_URL", sqlstoretest.URL(t, engine))
			base, _ := startServer(t, getenv)
			if _, errOut, err := runCmd(t, getenv, testPassword+"\n", "user", "create", "--email", "ops@example.com", "--name", "Ops", "--role", "admin", "--password-stdin"); err != nil {
				t.Fatalf("user create: %v\n%s", err, errOut)
			}
			token, _, err := runCmd(t, getenv, "", "token", "create", "--email", "ops@example.com")
			if err != nil {
				t.Fatal(err)
			}
			// With offers and without, in the open model and in a closed loop.
			for _, run := range []struct{ offer, rate string }{{"30s", "20"}, {"0s", "20"}, {"30s", "0"}} {
				name := "--offer-timeout " + run.offer + " --rate " + run.rate
				out, errOut, err := runCmd(t, environ("SWITCHBOARD_TOKEN", strings.TrimSpace(token)), "", "loadtest", "--url", base,
					"--agents", "5", "--warmup", "300ms", "--duration", "1s", "--rate", run.rate, "--workers", "4", "--offer-timeout", run.offer)
				if err != nil {
					t.Fatalf("loadtest %s: %v\n%s\n%s", name, err, out, errOut)
				}
				for _, want := range []string{"tasks_per_s ", "errors 0)", "create_to_assigned n=", "complete n="} {
					if !strings.Contains(out, want) {
						t.Errorf("loadtest %s printed no %q:\n%s", name, want, out)
					}
				}
				if strings.Contains(out, "completed 0 ") {
					t.Errorf("loadtest %s completed no task:\n%s", name, out)
				}
				if offered := strings.Contains(out, "accept   n="); offered != (run.offer != "0s") {
					t.Errorf("loadtest %s: accepted offers %v, want %v:\n%s", name, offered, run.offer != "0s", out)
				}
			}
			for _, scenario := range []string{"heartbeat", "me"} {
				out, errOut, err := runCmd(t, environ("SWITCHBOARD_TOKEN", strings.TrimSpace(token)), "", "loadtest", "--url", base,
					"--scenario", scenario, "--baseline", "--agents", "3", "--duration", "1s", "--rate", "50", "--workers", "4")
				if err != nil {
					t.Fatalf("loadtest --scenario %s: %v\n%s\n%s", scenario, err, out, errOut)
				}
				for _, want := range []string{"bare_" + scenario + " requests_per_s ", scenario + " requests_per_s ", "errors 0)", "ratio_to_bare "} {
					if !strings.Contains(out, want) {
						t.Errorf("loadtest --scenario %s printed no %q:\n%s", scenario, want, out)
					}
				}
			}
		})
	}
}

func TestLoadtestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"loadtest"}, "an admin's API token is required"},
		{[]string{"loadtest", "--token", "x", "--agents", "0"}, "agents must be from 1 to 100000"},
		{[]string{"loadtest", "--token", "x", "--url", "ftp://x"}, "not an http(s) URL"},
		{[]string{"loadtest", "--token", "x", "--offer-timeout", "1500ms"}, "whole seconds"},
		{[]string{"loadtest", "--token", "x", "--warmup", "-1s"}, "the warm-up must be 0 (none) or more"},
		{[]string{"loadtest", "--token", "x", "--scenario", "dance"}, "--scenario must be one of lifecycle, heartbeat, me"},
		{[]string{"loadtest", "--token", "x", "--baseline"}, "--baseline is for the heartbeat and me scenarios"},
		{[]string{"loadtest", "--token", "x", "--agents", "10", "--capacity", "2", "--workers", "21"}, "workers (21) must be at most agents × capacity (20)"},
		{[]string{"loadtest", "--token", "x", "--rate", "2000000"}, "rate must be from 0 (as fast as possible) to 1000000"},
	} {
		_, _, err := runCmd(t, environ(), "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
