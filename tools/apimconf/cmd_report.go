package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	creport "github.com/apim-conformance/apim-conformance/reports/conformance"
	"github.com/apim-conformance/apim-conformance/reports/redact"
)

func init() {
	register(command{Name: "report", Summary: "merge runs into one summary.html + conformance report; validate reports", Run: reportCmd})
}

const reportUsage = `Usage:
  apimconf report merge --out DIR [--markdown FILE] RUN_DIR...
                                               combine runs into DIR/summary.html,
                                               DIR/conformance-report.yaml and .json
                                               (and a Markdown matrix for CI job summaries)
  apimconf report validate PATH...             check conformance-report files (or run
                                               directories) against the schema

A RUN_DIR is a directory a run wrote (reports/out/<run-id>, holding
conformance-report.json). A directory without one is searched for run
directories, so "apimconf report merge --out merged artifacts/" merges every
run a CI job downloaded. Runs of several patterns, or of one pattern with and
without a fault, become columns of one pattern x check matrix, labelled by
pattern and faults ("pattern-6", "pattern-6 + gateway-ignores-revocation").

The schema is reports/conformance-report.schema.json (apiVersion
apim-conformance/v1alpha1; kinds PatternConformanceReport and
PatternConformanceReportList).

Examples:
  apimconf report merge --out /tmp/m reports/out/20261122-025326.305-p6 reports/out/20261122-025455.155-p6
  apimconf report merge --out merged-report artifacts/
  apimconf report validate reports/out/latest
`

func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, reportUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "merge":
		return reportMerge(args[1:], stdout, stderr)
	case "validate":
		return reportValidate(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "apimconf report: unknown subcommand %q\n\n%s", args[0], reportUsage)
	return 2
}

func reportMerge(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write summary.html and conformance-report.{yaml,json} into (created)")
	md := fs.String("markdown", "", "also write the matrix as Markdown to this file (for a CI job summary)")
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage+"\nFlags of merge:\n"); fs.PrintDefaults() }
	if code, ok := parse(fs, interleave(args)); !ok {
		return code
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "apimconf report merge: needs --out DIR and at least one run directory (see apimconf report --help)")
		return 2
	}
	runs, err := findRuns(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "apimconf report merge:", err)
		return 1
	}
	if err := creport.WriteMerged(*out, runs, redact.Default); err != nil {
		fmt.Fprintln(stderr, "apimconf report merge:", err)
		return 1
	}
	if *md != "" {
		err := os.MkdirAll(filepath.Dir(*md), 0o755)
		if err == nil {
			err = os.WriteFile(*md, creport.RenderMarkdown(runs, redact.Default), 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "apimconf report merge: markdown:", err)
			return 1
		}
	}
	result := creport.Success
	for _, r := range runs {
		fmt.Fprintf(stdout, "  %s\n", r.Report)
		result = creport.Worst(result, r.Report.Result)
	}
	fmt.Fprintf(stdout, "merged %d run(s): %s\n  %s\n  %s\n", len(runs), result,
		filepath.Join(*out, creport.FileHTML), filepath.Join(*out, creport.FileYAML))
	return 0
}

// interleave lets flags follow the positional arguments ("merge a b --out
// m"), which the flag package alone would treat as more run directories.
func interleave(args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if !strings.Contains(a, "=") && (a == "--out" || a == "-out" || a == "--markdown" || a == "-markdown") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			rest = append(rest, a)
		}
	}
	return append(flags, rest...)
}

// findRuns turns the arguments into runs: a directory holding a report is a
// run (a merged directory gives all its items); any other directory is
// searched. Symlinked directories are not followed while searching, so
// reports/out/latest does not count its run twice; a run seen twice (same
// run id) is kept once.
func findRuns(args []string) ([]creport.Run, error) {
	var runs []creport.Run
	seen := map[string]bool{}
	add := func(dir string) error {
		reps, err := creport.ReadRun(dir)
		if err != nil {
			return err
		}
		for _, r := range reps {
			key := r.RunID + "\x00" + r.Column()
			if seen[key] {
				continue
			}
			seen[key] = true
			d := dir
			if len(reps) > 1 {
				d = "" // items of a merged list: their files are elsewhere
			}
			runs = append(runs, creport.Run{Report: r, Dir: d})
		}
		return nil
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", arg, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s is a file; pass its run directory", arg)
		}
		if hasReport(arg) {
			if err := add(arg); err != nil {
				return nil, err
			}
			continue
		}
		var found []string
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && hasReport(p) {
				found = append(found, p)
				return filepath.SkipDir
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s holds no conformance-report.json (was it written by this version of the suite?)", arg)
		}
		sort.Strings(found)
		for _, f := range found {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	return runs, nil
}

func hasReport(dir string) bool {
	for _, n := range []string{creport.FileJSON, creport.FileYAML} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

func reportValidate(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "apimconf report validate: name at least one file or run directory\n\n"+reportUsage)
		return 2
	}
	bad := 0
	for _, a := range args {
		var err error
		if st, serr := os.Stat(a); serr == nil && st.IsDir() {
			_, err = creport.ReadRun(a)
		} else if serr != nil {
			err = serr
		} else {
			var b []byte
			if b, err = os.ReadFile(a); err == nil {
				if strings.HasSuffix(a, ".json") {
					err = creport.Validate(b)
				} else {
					err = creport.ValidateYAML(b)
				}
			}
		}
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "INVALID %s: %v\n", a, err)
			continue
		}
		fmt.Fprintf(stdout, "valid   %s\n", a)
	}
	if bad > 0 {
		return 1
	}
	return 0
}
