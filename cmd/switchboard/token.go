package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

func runToken(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(e.stdout, "Usage: switchboard token create --email E [--name N] [--expires DURATION] [flags]\n\n"+
			"Commands:\n  create    create a personal API token (run with --help for its flags)\n")
		if len(args) == 0 {
			return usagef("token: no subcommand given; want create")
		}
		return nil
	}
	if args[0] != "create" {
		return usagef("token: unknown subcommand %q; want create", args[0])
	}
	settings := []*config.Setting{config.Database, config.AutoMigrate}
	fs := newFlagSet("token create", help{
		usage: "switchboard token create --email E [--name N] [--expires DURATION]",
		description: "Creates a personal API token for a user and prints it, once, on standard\n" +
			"output. It acts with the user's role: send it as Authorization: Bearer <token>.",
		settings: settings,
	}, e.stdout)
	binding := config.Bind(fs, settings)
	email := fs.String("email", "", "the e-mail `address` of the token's owner (required)")
	name := fs.String("name", "command line", "a `name` saying what the token is for")
	expires := fs.String("expires", "", "`lifetime`, like 720h or 90d; never expires if empty")
	if h, err := parse(fs, args[1:]); h || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("token create: unexpected argument %q", fs.Arg(0))
	}
	if strings.TrimSpace(*email) == "" {
		return usagef("token create: --email is required (see switchboard token create --help)")
	}
	var expiresAt *time.Time
	if *expires != "" {
		d, err := parseLifetime(*expires)
		if err != nil {
			return usagef("token create: --expires: %v", err)
		}
		t := time.Now().Add(d)
		expiresAt = &t
	}
	cfg, err := binding.Load(e.getenv)
	if err != nil {
		return usagef("token create: %v", err)
	}
	db, err := openDatabase(ctx, cfg, slog.New(slog.NewTextHandler(e.stderr, nil)))
	if err != nil {
		return err
	}
	defer db.Close()

	ctx = cliContext(ctx)
	u, err := sqlstore.NewUserService(db).FindUserByEmail(ctx, *email)
	if err != nil {
		return describe(err)
	}
	t, secret, err := sqlstore.NewTokenService(db).CreateToken(ctx, switchboard.NewToken{UserID: u.ID, Name: *name, ExpiresAt: expiresAt})
	if err != nil {
		return describe(err)
	}
	fmt.Fprintln(e.stdout, secret)
	when := "never expires"
	if t.ExpiresAt != nil {
		when = "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(e.stderr, "Token %q (id %s) for %s %s; it is shown only this once.\n", t.Name, t.ID, u.Email, when)
	return nil
}

// parseLifetime reads a Go duration, or a whole number of days like "90d".
func parseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q is not a number of days like 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration like 720h or 90d", s)
	}
	return d, nil
}
