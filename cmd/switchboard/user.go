package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/sqlstore"
)

// cliActor is who the command line acts as: the system, which may do what an
// admin may.
func cliContext(ctx context.Context) context.Context {
	return switchboard.NewContextWithActor(ctx, switchboard.SystemActor("cli"))
}

func runUser(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(e.stdout, "Usage: switchboard user create --email E --name N --role admin|supervisor|agent [flags]\n\n"+
			"Commands:\n  create    create a user (run with --help for its flags)\n")
		if len(args) == 0 {
			return usagef("user: no subcommand given; want create")
		}
		return nil
	}
	if args[0] != "create" {
		return usagef("user: unknown subcommand %q; want create", args[0])
	}
	settings := []*config.Setting{config.Database, config.AutoMigrate}
	fs := newFlagSet("user create", help{
		usage: "switchboard user create --email E --name N --role R [--password-stdin]",
		description: "Creates a user who can sign in. The password is read from a prompt, or with\n" +
			"--password-stdin from the first line of standard input; never from a flag,\n" +
			"where it would show in process lists and shell history.",
		settings: settings,
	}, e.stdout)
	binding := config.Bind(fs, settings)
	email := fs.String("email", "", "the user's e-mail `address`, used to sign in (required)")
	name := fs.String("name", "", "the user's display `name` (required)")
	role := fs.String("role", "", "`role`: admin, supervisor or agent (required)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	if h, err := parse(fs, args[1:]); h || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("user create: unexpected argument %q", fs.Arg(0))
	}
	var missing []string
	for flagName, v := range map[string]string{"--email": *email, "--name": *name, "--role": *role} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, flagName)
		}
	}
	if len(missing) > 0 {
		return usagef("user create: %s required (see switchboard user create --help)", strings.Join(sortStrings(missing), ", "))
	}
	if !switchboard.Role(*role).Valid() {
		return usagef("user create: --role must be admin, supervisor or agent, not %q", *role)
	}
	cfg, err := binding.Load(e.getenv)
	if err != nil {
		return usagef("user create: %v", err)
	}
	password, err := readPassword(e, *passwordStdin)
	if err != nil {
		return err
	}

	db, err := openDatabase(ctx, cfg, slog.New(slog.NewTextHandler(e.stderr, nil)))
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := sqlstore.NewUserService(db).CreateUser(cliContext(ctx), switchboard.NewUser{
		Email: *email, Name: *name, Role: switchboard.Role(*role), Password: password,
	})
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(e.stdout, "Created %s %s <%s> (id %s).\n", u.Role, u.Name, u.Email, u.ID)
	return nil
}

// readPassword reads a new password from standard input (--password-stdin)
// or from a prompt on the terminal, asking twice.
func readPassword(e env, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		password := strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", usagef("user create: standard input held no password")
		}
		return password, nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("user create: no terminal to ask for a password on; pipe it in with --password-stdin")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		return string(b), err
	}
	first, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	second, err := ask("Password again: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the passwords do not match")
	}
	return first, nil
}

// describe turns a service error into a message for the terminal, with
// every field at fault.
func describe(err error) error {
	if switchboard.ErrorCode(err) == switchboard.EINTERNAL {
		return err
	}
	msg := switchboard.ErrorMessage(err)
	fields := switchboard.ErrorFields(err)
	if len(fields) > 1 || (len(fields) == 1 && fields[0].Message != msg) {
		var parts []string
		for _, f := range fields {
			parts = append(parts, "--"+strings.ReplaceAll(f.Field, "_", "-")+": "+f.Message)
		}
		msg = strings.Join(parts, "; ")
	}
	return errors.New(msg)
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
