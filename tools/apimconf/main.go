// Command apimconf is the apim-conformance CLI: run a pattern's suite, try it
// against the emulator, render a deploy plan, check prerequisites, merge reports.
//
// Each subcommand lives in its own cmd_<name>.go file and registers itself in
// init(), so commands can be added without touching this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. Run gets the arguments after the subcommand name
// and returns the process exit code.
type command struct {
	Name    string
	Summary string // one line for the overview
	Run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.Name]; dup {
		panic("apimconf: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "apimconf: conformance and smoke tests for WSO2 API Manager deployment patterns")
	fmt.Fprintln(w, "\nUsage: apimconf <command> [flags]   (apimconf <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nStart with: apimconf demo   (pattern 6 against the built-in emulator, seconds)")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// SIGINT/SIGTERM cancel the context so a command can clean up (stop
	// clusters, write reports) instead of dying mid-way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runWithContext(ctx, args, stdout, stderr)
}

// runWithContext dispatches args[0] with ctx.
func runWithContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "apimconf: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.Run(ctx, args[1:], stdout, stderr)
}

// splitList turns "a,b, c" into [a b c].
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parse parses a subcommand's flags. When it returns false the command must
// exit with code: 0 after --help (usage already printed), 2 on a bad flag
// (the flag package already said which).
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
