// Command switchboard is the Switchboard server and its administration
// commands, in one binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchboardhq/switchboard/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard: "+err.Error())
		var u *usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the command line itself: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// env bundles what a command receives from its caller, so that tests can
// run every command in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server", runServe},
		{"migrate", "apply database migrations, or show their status", runMigrate},
		{"user", "manage users: user create", runUser},
		{"token", "manage personal API tokens: token create", runToken},
		{"openapi", "print the API contract (OpenAPI 3.1, YAML)", runOpenAPI},
		{"loadtest", "measure a running server: task lifecycles through the API", runLoadtest},
		{"version", "print the version", runVersion},
	}
}

// run is the whole program, minus process concerns (signals, exit status),
// so that tests can call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		printUsage(stderr)
		return usagef("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	return usagef("unknown command %q (see switchboard --help)", args[0])
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Switchboard registers agents, routes work to them, and watches them live.

Usage:
  switchboard <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "switchboard <command> --help" for a command's flags.
`)
}

// help describes a command for its --help.
type help struct {
	usage       string // the synopsis, like "switchboard serve [flags]"
	description string
	settings    []*config.Setting // flags that also come from the environment
}

// newFlagSet returns a flag set that reports errors as one line (returned by
// parse) instead of printing usage, and prints help on --help.
func newFlagSet(name string, h help, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: %s\n\n%s\n\nFlags:\n", h.usage, h.description)
		printFlags(fs, h.settings, stdout)
	}
	return fs
}

// printFlags lists flags GNU-style (--name VALUE), which is how we document
// them (Go's flag package accepts one dash or two), with the environment
// variable behind each configuration flag.
func printFlags(fs *flag.FlagSet, settings []*config.Setting, w io.Writer) {
	envOf := map[string]string{}
	for _, s := range settings {
		envOf[s.Flag] = s.Env
	}
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		left := "  --" + f.Name
		if name != "" {
			left += " " + strings.ToUpper(name)
		}
		var notes []string
		if env := envOf[f.Name]; env != "" {
			notes = append(notes, "env "+env)
		}
		if f.DefValue != "" && f.DefValue != "false" {
			notes = append(notes, "default "+f.DefValue)
		}
		fmt.Fprintf(w, "%s\n      %s", left, usage)
		if len(notes) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(notes, "; "))
		}
		fmt.Fprintln(w)
	})
	fmt.Fprintln(w, "  --help\n      show this help")
	if len(settings) > 0 {
		fmt.Fprintln(w, "\nA flag wins over its environment variable.")
	}
}

// parse parses args and turns --help into a nil error after printing help
// (reported by the bool), and other problems into a usage error.
func parse(fs *flag.FlagSet, args []string) (help bool, err error) {
	// Go's flag package stops at the first argument that is not a flag, but
	// people write "migrate up --database X" as often as "migrate --database
	// X up": flags are read on either side of the other arguments.
	var positional []string
	for {
		if err = fs.Parse(args); err != nil {
			break
		}
		rest := fs.Args()
		if read := len(args) - len(rest); read > 0 && args[read-1] == "--" {
			// Parse stopped at "--", which ends the flags for good.
			positional = append(positional, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	if err == nil {
		err = fs.Parse(append([]string{"--"}, positional...)) // leaves them as fs.Args()
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return true, nil // the flag package has printed the help
	case err != nil:
		// We document flags with two dashes; say so in errors too.
		msg := strings.Replace(err.Error(), "defined: -", "defined: --", 1)
		return false, usagef("%s: %s (see switchboard %s --help)", fs.Name(), msg, fs.Name())
	}
	return false, nil
}
