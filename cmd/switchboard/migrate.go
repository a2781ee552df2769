package main

import (
	"context"
	"fmt"
	"runtime"
	"text/tabwriter"

	"github.com/switchboardhq/switchboard/internal/auth"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func runMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("migrate", help{
		usage: "switchboard migrate [up|status] [flags]",
		description: "up (the default) applies every pending migration; several servers may run it\n" +
			"at once, one waits for the other. status lists the migrations and whether each\nis applied.",
		settings: config.DatabaseSettings,
	}, e.stdout)
	binding := config.Bind(fs, config.DatabaseSettings)
	if h, err := parse(fs, args); h || err != nil {
		return err
	}
	action := "up"
	switch fs.NArg() {
	case 0:
	case 1:
		action = fs.Arg(0)
	default:
		return usagef("migrate: too many arguments; want up or status")
	}
	if action != "up" && action != "status" {
		return usagef("migrate: unknown action %q; want up or status", action)
	}
	cfg, err := binding.Load(e.getenv)
	if err != nil {
		return usagef("migrate: %v", err)
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL, auth.NewArgon2id(2*runtime.NumCPU()))
	if err != nil {
		return err
	}
	defer db.Close()

	if action == "up" {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintf(e.stdout, "The %s database is up to date.\n", db.Engine())
			return nil
		}
		fmt.Fprintf(e.stdout, "Applied %d migration(s) to the %s database: %v\n", len(applied), db.Engine(), applied)
		return nil
	}
	states, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
	pending := 0
	for _, s := range states {
		state, at := "pending", ""
		if s.Applied {
			state, at = "applied", s.AppliedAt.UTC().Format("2006-01-02 15:04:05 UTC")
		} else {
			pending++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d applied, %d pending.\n", len(states)-pending, pending)
	return nil
}
