// Command fakeinference runs the OpenAI-compatible fake inference server of
// package github.com/burstbench/burst/fakeinference.
//
// Configuration, lowest precedence first: the preset (--preset, default
// h200-8b), the YAML file of --config (keys equal the flag names), the
// FAKEINFERENCE_* environment variables, then the flags. Invalid configuration
// exits 2 naming every problem; a listener error exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/burstbench/burst/internal/signals"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/burstbench/burst/fakeinference"
	"sigs.k8s.io/yaml"
)

// Exit codes, as burst's (DESIGN.md).
const (
	exitOK       = 0
	exitFailed   = 1
	exitBadInput = 2
)

// configEnv names the configuration file when --config is not given.
const configEnv = "FAKEINFERENCE_CONFIG"

func main() {
	ctx, cancel := signals.Context(os.Stderr, "fakeinference: %v: stopping: finishing in-flight requests (signal again to exit now)", "")
	defer cancel()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// knobFlag records a flag's value; it is applied after the file and the
// environment.
type knobFlag struct {
	name string
	set  *[][2]string
	def  string
}

func (f *knobFlag) String() string { return f.def }
func (f *knobFlag) Set(v string) error {
	*f.set = append(*f.set, [2]string{f.name, v})
	return nil
}

type boolKnobFlag struct{ knobFlag }

func (f *boolKnobFlag) IsBoolFlag() bool { return true }

// run is the whole command: it parses args with env (os.LookupEnv in main),
// serves until ctx is cancelled and returns the exit code. Program output
// (--help, --print-config) goes to stdout; logs and errors to stderr.
func run(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakeinference", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var flagged [][2]string
	configFile := fs.String("config", "", "YAML file of settings whose keys equal the flag names, applied before env and flags (env "+configEnv+")")
	printConfig := fs.Bool("print-config", false, "print the effective configuration as YAML and exit")
	knobs := fakeinference.Knobs()
	for _, k := range knobs {
		kf := knobFlag{name: k.Name, set: &flagged, def: k.Default}
		if k.Type == "bool" {
			fs.Var(&boolKnobFlag{kf}, k.Name, k.Help)
		} else {
			fs.Var(&kf, k.Name, k.Help)
		}
	}
	fs.Usage = func() {} // --help prints below; a bad flag gets one line, not the whole list
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, knobs)
			return exitOK
		}
		fmt.Fprintln(stderr, "fakeinference: run with --help to list the flags")
		return exitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fakeinference: unexpected arguments %q; every setting is a --flag (see --help)\n", fs.Args())
		return exitBadInput
	}

	cfg, problems := resolve(*configFile, env, flagged)
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "fakeinference: invalid configuration:")
		for _, p := range problems {
			fmt.Fprintf(stderr, "  - %s\n", p)
		}
		return exitBadInput
	}
	if *printConfig {
		b, err := configYAML(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "fakeinference: %v\n", err)
			return exitFailed
		}
		stdout.Write(b)
		return exitOK
	}

	srv, err := fakeinference.New(cfg)
	if err != nil { // resolve validated already; kept for safety
		fmt.Fprintf(stderr, "fakeinference: %v\n", err)
		return exitBadInput
	}
	defer srv.Close()
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "fakeinference: listen on %s: %v\n", addr, err)
		return exitFailed
	}
	served := cfg.ServedModelName
	if len(served) == 0 {
		served = []string{cfg.Model}
	}
	fmt.Fprintf(stderr, "fakeinference: listening on %s (preset %q, models %s, max-num-seqs %d)\n",
		ln.Addr(), cfg.Preset, strings.Join(served, ","), cfg.MaxNumSeqs)
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "fakeinference: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(stderr, "fakeinference: stopped")
	return exitOK
}

// resolve builds the configuration from the preset, the file, the
// environment and the flags, and returns every problem found on the way.
func resolve(file string, env func(string) (string, bool), flagged [][2]string) (fakeinference.Config, []string) {
	var problems []string
	failed := map[string]bool{} // keys whose value did not parse
	addErr := func(source string, err error) {
		for _, e := range flatten(err) {
			var fe *fakeinference.FieldError
			if errors.As(e, &fe) {
				failed[fe.Field] = true
				if source == "" {
					problems = append(problems, fe.Error())
				} else if source == "--"+fe.Field || source == fakeinference.EnvName(fe.Field) {
					problems = append(problems, source+": "+fe.Problem)
				} else {
					problems = append(problems, source+": "+fe.Error())
				}
				continue
			}
			problems = append(problems, source+": "+e.Error())
		}
	}
	if file == "" {
		file, _ = env(configEnv)
	}
	var fileKeys map[string]json.RawMessage
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--config: read %s: %v", file, err))
		} else if j, err := yaml.YAMLToJSON(data); err != nil {
			problems = append(problems, fmt.Sprintf("--config %s: not valid YAML: %v", file, err))
		} else if s := strings.TrimSpace(string(j)); s != "null" && s != "" {
			if err := json.Unmarshal(j, &fileKeys); err != nil {
				problems = append(problems, fmt.Sprintf("--config %s: must be a mapping of key: value lines: %v", file, err))
			}
		}
	}

	// The preset is the base: flag over env over file.
	preset := ""
	if p, ok := fileKeys["preset"]; ok {
		if err := json.Unmarshal(p, &preset); err != nil {
			problems = append(problems, fmt.Sprintf("--config %s: preset: must be a string", file))
		}
		delete(fileKeys, "preset")
	}
	if v, ok := env(fakeinference.EnvName("preset")); ok && v != "" {
		preset = v
	}
	for _, f := range flagged {
		if f[0] == "preset" {
			preset = f[1]
		}
	}
	cfg := fakeinference.DefaultConfig()
	if preset != "" {
		p, err := fakeinference.Preset(preset)
		if err != nil {
			addErr("preset", err)
		} else {
			cfg = p
		}
	}

	if len(fileKeys) > 0 {
		j, _ := json.Marshal(fileKeys)
		if err := cfg.UnmarshalJSON(j); err != nil {
			addErr("--config "+file, err)
		}
	}
	for _, k := range fakeinference.Knobs() {
		if k.Name == "preset" {
			continue
		}
		v, ok := env(k.Env)
		if !ok {
			continue
		}
		if k.Name == "port" && strings.Contains(v, "://") {
			// A Kubernetes service link (a Service named fakeinference sets
			// FAKEINFERENCE_PORT=tcp://10.96.0.10:8000), not a setting.
			continue
		}
		if err := cfg.Set(k.Name, v); err != nil {
			addErr(k.Env, err)
		}
	}
	for _, f := range flagged {
		if f[0] == "preset" {
			continue
		}
		if err := cfg.Set(f[0], f[1]); err != nil {
			addErr("--"+f[0], err)
		}
	}
	// Validation problems of keys that did not parse would only repeat them.
	for _, e := range flatten(cfg.Validate()) {
		var fe *fakeinference.FieldError
		if errors.As(e, &fe) && failed[fe.Field] {
			continue
		}
		addErr("", e)
	}
	return cfg, problems
}

// flatten returns the leaves of a joined error.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// configYAML renders cfg with the flag names as keys.
func configYAML(cfg fakeinference.Config) ([]byte, error) {
	j, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return nil, fmt.Errorf("encode config as YAML: %w", err)
	}
	return y, nil
}

func usage(w io.Writer, knobs []fakeinference.Knob) {
	fmt.Fprint(w, `Usage: fakeinference [flags]

An OpenAI-compatible fake inference server that behaves like a loaded GPU:
POST /v1/chat/completions, POST /v1/completions (JSON or SSE streaming),
GET /v1/models, /healthz, /readyz, /metrics (vLLM names), GET/POST /admin/config.

Settings, lowest precedence first: the preset, the --config YAML file (keys
equal the flag names, e.g. "inter-token-latency: 12ms"), environment variables
(FAKEINFERENCE_ and the flag name in upper case with underscores, e.g.
FAKEINFERENCE_INTER_TOKEN_LATENCY=12ms), then flags. Durations are written
with a unit: 12ms, 1.5s, 250us. Invalid settings exit 2 naming every problem.

Flags:
  --config FILE
        YAML file of settings whose keys equal the flag names (env `+configEnv+`)
  --print-config
        print the effective configuration as YAML and exit
  --help
        print this help and exit
`)
	for _, k := range knobs {
		typ := k.Type
		if typ == "bool" {
			typ = ""
		} else {
			typ = " " + strings.ToUpper(typ)
		}
		fmt.Fprintf(w, "  --%s%s\n        %s\n        (default %s; env %s)\n", k.Name, typ, k.Help, quoteDefault(k.Default), k.Env)
	}
	fmt.Fprintf(w, "\nPresets: %s (default h200-8b). They are approximations; see docs/fakeinference.md.\n",
		strings.Join(fakeinference.PresetNames(), ", "))
}

func quoteDefault(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
