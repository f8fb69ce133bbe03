package worker

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/burstbench/burst/internal/queue"
)

// Config is the complete configuration of one worker. Defaults returns the
// built-in values; ConfigFromEnv and ParseArgs fill it from the environment
// and flags. Durations are Go duration strings in the environment ("30s").
type Config struct {
	// RedisAddr is host:port of the Redis server (REDIS_ADDR, --redis-addr).
	RedisAddr string
	// RedisPassword is optional (REDIS_PASSWORD; environment only).
	RedisPassword string
	// StreamPrefix derives every key name with queue.KeysFor (STREAM_PREFIX,
	// --stream-prefix): "burst" → burst:tasks, burst-workers, burst:results,
	// burst:dead.
	StreamPrefix string
	// Stream, Group, ResultsStream and DeadLetterStream override single key
	// names derived from StreamPrefix when not empty (STREAM, CONSUMER_GROUP,
	// RESULTS_STREAM, DEAD_LETTER_STREAM).
	Stream           string
	Group            string
	ResultsStream    string
	DeadLetterStream string
	// Consumer is this worker's consumer name in the group (CONSUMER_NAME,
	// --consumer); ConfigFromEnv defaults it to HOSTNAME, the pod name.
	Consumer string
	// Concurrency is the number of tasks run at once: the worker's slots
	// (CONCURRENCY, --concurrency).
	Concurrency int
	// ReadCount caps the COUNT of one XREADGROUP; 0 means the free slots
	// (READ_COUNT, --read-count). 1 reads one entry at a time, the behaviour
	// behind KEDA pitfall #2. COUNT never exceeds the free slots.
	ReadCount int
	// Block is XREADGROUP's BLOCK time (BLOCK, --block). It also bounds how
	// late a reclaim pass can be and how long a shutdown waits for a read.
	Block time.Duration

	// Endpoint is the OpenAI-compatible base URL, e.g. http://host:8000/v1
	// (INFERENCE_ENDPOINT, --inference-endpoint). Required.
	Endpoint string
	// Model is the model name sent with each call (MODEL_NAME, --model).
	Model string
	// APIKey is sent as a bearer token when set (INFERENCE_API_KEY, else
	// OPENAI_API_KEY; environment only).
	APIKey string
	// CallTimeout bounds one inference call, the whole stream included
	// (CALL_TIMEOUT, --call-timeout).
	CallTimeout time.Duration
	// MaxRetries is the number of retries per agent step after the first
	// attempt (MAX_RETRIES, --max-retries).
	MaxRetries int
	// BackoffBase and BackoffMax shape the retry backoff: attempt n waits a
	// random time in [d/2, d] with d = min(BackoffMax, BackoffBase·2ⁿ), or the
	// server's Retry-After when longer, capped at BackoffMax (BACKOFF_BASE,
	// BACKOFF_MAX).
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// ReclaimMinIdle is how long an entry must be pending untouched before
	// another worker takes it over with XAUTOCLAIM (RECLAIM_MIN_IDLE).
	ReclaimMinIdle time.Duration
	// ReclaimInterval is how often the worker looks for such entries
	// (RECLAIM_INTERVAL).
	ReclaimInterval time.Duration
	// HeartbeatInterval is how often the worker resets the idle time of its
	// in-flight entries; 0 means ReclaimMinIdle/3 (HEARTBEAT_INTERVAL).
	HeartbeatInterval time.Duration
	// MaxDeliveries is how many times a task may be delivered; the delivery
	// that reaches it and fails goes to the dead-letter stream (MAX_DELIVERIES).
	MaxDeliveries int
	// ShutdownGrace is how long in-flight tasks may run after the stop signal
	// (SHUTDOWN_GRACE). Keep it below the pod's terminationGracePeriodSeconds.
	ShutdownGrace time.Duration
	// StartupDelay mimics heavy initialisation: /readyz answers 503 and
	// nothing is read until it has passed (STARTUP_DELAY).
	StartupDelay time.Duration

	// HTTPAddr is the listen address of /healthz, /readyz and /metrics; "off"
	// disables the server (HTTP_ADDR, --http-addr).
	HTTPAddr string
	// LogLevel is debug, info, warn or error (LOG_LEVEL, --log-level); debug
	// logs one line per task.
	LogLevel string
	// LogFormat is json or text (LOG_FORMAT, --log-format).
	LogFormat string
}

// Defaults returns the built-in configuration. Endpoint and Consumer have no
// default and must be set.
func Defaults() Config {
	return Config{
		RedisAddr:       "127.0.0.1:6379",
		StreamPrefix:    queue.DefaultPrefix,
		Concurrency:     1,
		Block:           2 * time.Second,
		Model:           "burst-fake-model",
		CallTimeout:     2 * time.Minute,
		MaxRetries:      4,
		BackoffBase:     250 * time.Millisecond,
		BackoffMax:      10 * time.Second,
		ReclaimMinIdle:  30 * time.Second,
		ReclaimInterval: 5 * time.Second,
		MaxDeliveries:   5,
		ShutdownGrace:   25 * time.Second,
		HTTPAddr:        ":8080",
		LogLevel:        "info",
		LogFormat:       "json",
	}
}

// Keys returns the Redis key names the worker uses.
func (c Config) Keys() queue.Keys {
	k := queue.KeysFor(c.StreamPrefix)
	if c.Stream != "" {
		k.Stream = c.Stream
	}
	if c.Group != "" {
		k.Group = c.Group
	}
	if c.ResultsStream != "" {
		k.Results = c.ResultsStream
	}
	if c.DeadLetterStream != "" {
		k.DeadLetter = c.DeadLetterStream
	}
	return k
}

// heartbeat returns the effective heartbeat interval.
func (c Config) heartbeat() time.Duration {
	if c.HeartbeatInterval > 0 {
		return c.HeartbeatInterval
	}
	return c.ReclaimMinIdle / 3
}

// LogValue renders the configuration for the start-up log line, without secrets.
func (c Config) LogValue() slog.Value {
	k := c.Keys()
	return slog.GroupValue(
		slog.String("redis_addr", c.RedisAddr),
		slog.Bool("redis_password_set", c.RedisPassword != ""),
		slog.String("stream", k.Stream),
		slog.String("group", k.Group),
		slog.String("results_stream", k.Results),
		slog.String("dead_letter_stream", k.DeadLetter),
		slog.Int("concurrency", c.Concurrency),
		slog.Int("read_count", c.ReadCount),
		slog.Duration("block", c.Block),
		slog.String("inference_endpoint", c.Endpoint),
		slog.String("model", c.Model),
		slog.Bool("api_key_set", c.APIKey != ""),
		slog.Duration("call_timeout", c.CallTimeout),
		slog.Int("max_retries", c.MaxRetries),
		slog.Duration("backoff_base", c.BackoffBase),
		slog.Duration("backoff_max", c.BackoffMax),
		slog.Duration("reclaim_min_idle", c.ReclaimMinIdle),
		slog.Duration("reclaim_interval", c.ReclaimInterval),
		slog.Duration("heartbeat_interval", c.heartbeat()),
		slog.Int("max_deliveries", c.MaxDeliveries),
		slog.Duration("shutdown_grace", c.ShutdownGrace),
		slog.Duration("startup_delay", c.StartupDelay),
		slog.String("http_addr", c.HTTPAddr),
	)
}

// Problem is one invalid configuration value.
type Problem struct {
	// Field names the setting as the user writes it: "CONCURRENCY (--concurrency)".
	Field string
	// Msg says what is wrong and how to fix it.
	Msg string
}

func (p Problem) String() string { return p.Field + ": " + p.Msg }

// ConfigError lists every problem found in a configuration. The worker
// command exits 2 on it.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid worker configuration (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// setting binds one Config field to its environment variable(s) and flag.
type setting struct {
	env   []string // the first is the documented name; later ones are fallbacks
	flag  string   // empty: environment only (secrets stay off the command line)
	arg   string   // placeholder in --help
	usage string
	set   func(c *Config, v string) error
	get   func(c *Config) string
}

func (o setting) field() string {
	if o.flag == "" {
		return o.env[0]
	}
	return o.env[0] + " (--" + o.flag + ")"
}

func strOpt(env, flagName, arg, usage string, p func(*Config) *string) setting {
	return setting{env: strings.Split(env, ","), flag: flagName, arg: arg, usage: usage,
		set: func(c *Config, v string) error { *p(c) = v; return nil },
		get: func(c *Config) string { return *p(c) }}
}

func intOpt(env, flagName, arg, usage string, p func(*Config) *int) setting {
	return setting{env: strings.Split(env, ","), flag: flagName, arg: arg, usage: usage,
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a whole number: write it like 4", v)
			}
			*p(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(*p(c)) }}
}

func durOpt(env, flagName, arg, usage string, p func(*Config) *time.Duration) setting {
	return setting{env: strings.Split(env, ","), flag: flagName, arg: arg, usage: usage,
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a duration: write it like 500ms, 30s or 2m", v)
			}
			*p(c) = d
			return nil
		},
		get: func(c *Config) string { return (*p(c)).String() }}
}

// options lists every setting in the order --help and docs/worker.md show
// them. An env list "A,B" reads A, else B.
var options = []setting{
	strOpt("REDIS_ADDR", "redis-addr", "HOST:PORT", "Redis server address",
		func(c *Config) *string { return &c.RedisAddr }),
	strOpt("REDIS_PASSWORD", "", "", "Redis password (optional)",
		func(c *Config) *string { return &c.RedisPassword }),
	strOpt("STREAM_PREFIX", "stream-prefix", "PREFIX", "key prefix: PREFIX:tasks, PREFIX-workers, PREFIX:results, PREFIX:dead",
		func(c *Config) *string { return &c.StreamPrefix }),
	strOpt("STREAM", "stream", "KEY", "task stream name (overrides PREFIX:tasks)",
		func(c *Config) *string { return &c.Stream }),
	strOpt("CONSUMER_GROUP", "group", "NAME", "consumer group name (overrides PREFIX-workers)",
		func(c *Config) *string { return &c.Group }),
	strOpt("RESULTS_STREAM", "results-stream", "KEY", "results stream name (overrides PREFIX:results)",
		func(c *Config) *string { return &c.ResultsStream }),
	strOpt("DEAD_LETTER_STREAM", "dead-letter-stream", "KEY", "dead-letter stream name (overrides PREFIX:dead)",
		func(c *Config) *string { return &c.DeadLetterStream }),
	strOpt("CONSUMER_NAME", "consumer", "NAME", "consumer name in the group; unset: $HOSTNAME (the pod name), else host-pid",
		func(c *Config) *string { return &c.Consumer }),
	intOpt("CONCURRENCY", "concurrency", "N", "tasks run at once (slots)",
		func(c *Config) *int { return &c.Concurrency }),
	intOpt("READ_COUNT", "read-count", "N", "cap on XREADGROUP COUNT; 0 = free slots, 1 = one entry at a time",
		func(c *Config) *int { return &c.ReadCount }),
	durOpt("BLOCK", "block", "DURATION", "XREADGROUP BLOCK time",
		func(c *Config) *time.Duration { return &c.Block }),
	strOpt("INFERENCE_ENDPOINT", "inference-endpoint", "URL", "OpenAI-compatible base URL, e.g. http://fakeinference:8000/v1 (required)",
		func(c *Config) *string { return &c.Endpoint }),
	strOpt("MODEL_NAME", "model", "NAME", "model name sent with each call",
		func(c *Config) *string { return &c.Model }),
	strOpt("INFERENCE_API_KEY,OPENAI_API_KEY", "", "", "bearer token for the endpoint (optional; INFERENCE_API_KEY wins over OPENAI_API_KEY)",
		func(c *Config) *string { return &c.APIKey }),
	durOpt("CALL_TIMEOUT", "call-timeout", "DURATION", "limit on one inference call, stream included",
		func(c *Config) *time.Duration { return &c.CallTimeout }),
	intOpt("MAX_RETRIES", "max-retries", "N", "retries per agent step on 408/429/5xx/timeouts/connection errors",
		func(c *Config) *int { return &c.MaxRetries }),
	durOpt("BACKOFF_BASE", "backoff-base", "DURATION", "first retry backoff (doubles per retry, with jitter)",
		func(c *Config) *time.Duration { return &c.BackoffBase }),
	durOpt("BACKOFF_MAX", "backoff-max", "DURATION", "largest retry backoff (also caps Retry-After)",
		func(c *Config) *time.Duration { return &c.BackoffMax }),
	durOpt("RECLAIM_MIN_IDLE", "reclaim-min-idle", "DURATION", "idle time after which a pending entry is reclaimed",
		func(c *Config) *time.Duration { return &c.ReclaimMinIdle }),
	durOpt("RECLAIM_INTERVAL", "reclaim-interval", "DURATION", "how often to look for entries to reclaim",
		func(c *Config) *time.Duration { return &c.ReclaimInterval }),
	durOpt("HEARTBEAT_INTERVAL", "heartbeat-interval", "DURATION", "how often in-flight entries are touched; 0 = RECLAIM_MIN_IDLE/3",
		func(c *Config) *time.Duration { return &c.HeartbeatInterval }),
	intOpt("MAX_DELIVERIES", "max-deliveries", "N", "deliveries before a failing task goes to the dead-letter stream",
		func(c *Config) *int { return &c.MaxDeliveries }),
	durOpt("SHUTDOWN_GRACE", "shutdown-grace", "DURATION", "time in-flight tasks may finish after SIGTERM",
		func(c *Config) *time.Duration { return &c.ShutdownGrace }),
	durOpt("STARTUP_DELAY", "startup-delay", "DURATION", "mimic heavy init: not ready and not reading until it passes",
		func(c *Config) *time.Duration { return &c.StartupDelay }),
	strOpt("HTTP_ADDR", "http-addr", "ADDR", "listen address of /healthz, /readyz, /metrics; off disables",
		func(c *Config) *string { return &c.HTTPAddr }),
	strOpt("LOG_LEVEL", "log-level", "LEVEL", "debug, info, warn or error (debug logs every task)",
		func(c *Config) *string { return &c.LogLevel }),
	strOpt("LOG_FORMAT", "log-format", "FORMAT", "json or text",
		func(c *Config) *string { return &c.LogFormat }),
}

// applyEnv sets every option whose environment variable is non-empty.
func applyEnv(c *Config, getenv func(string) string) []Problem {
	var ps []Problem
	for _, o := range options {
		for _, name := range o.env {
			v := getenv(name)
			if v == "" {
				continue
			}
			if err := o.set(c, v); err != nil {
				ps = append(ps, Problem{Field: name, Msg: err.Error()})
			}
			break
		}
	}
	if c.Consumer == "" {
		c.Consumer = defaultConsumer(getenv)
	}
	return ps
}

// defaultConsumer is HOSTNAME (the pod name in Kubernetes), else the host
// name and process id, which keeps several local processes apart.
func defaultConsumer(getenv func(string) string) string {
	if h := getenv("HOSTNAME"); h != "" {
		return h
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "worker"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// ConfigFromEnv returns Defaults overridden by the environment variables that
// getenv reports as non-empty, validated. Pass os.Getenv in a program. The
// error is a *ConfigError listing every problem.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Defaults()
	ps := applyEnv(&c, getenv)
	return c, finish(c, ps)
}

// ParseArgs builds the configuration like ConfigFromEnv and then applies the
// command-line flags in args, which win over the environment. It returns
// flag.ErrHelp after writing the usage to out when args ask for help, and a
// *ConfigError listing every problem otherwise.
func ParseArgs(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Defaults()
	ps := applyEnv(&c, getenv)
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { WriteUsage(out) }
	set := map[string]string{}
	var order []string
	for _, o := range options {
		if o.flag == "" {
			continue
		}
		name := o.flag
		fs.Func(name, o.usage, func(v string) error {
			if _, seen := set[name]; !seen {
				order = append(order, name)
			}
			set[name] = v
			return nil
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, &ConfigError{Problems: []Problem{{Field: "command line", Msg: err.Error() + " (see --help)"}}}
	}
	if fs.NArg() > 0 {
		ps = append(ps, Problem{Field: "command line", Msg: fmt.Sprintf("unexpected argument %q: the worker takes flags only (see --help)", fs.Arg(0))})
	}
	for _, o := range options {
		v, ok := set[o.flag]
		if o.flag == "" || !ok {
			continue
		}
		if err := o.set(&c, v); err != nil {
			ps = append(ps, Problem{Field: "--" + o.flag, Msg: err.Error()})
		}
	}
	return c, finish(c, ps)
}

func finish(c Config, ps []Problem) error {
	if err := c.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ps = append(ps, ce.Problems...)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &ConfigError{Problems: ps}
}

// fieldOf returns the documented name of the option whose first env var is env.
func fieldOf(env string) string {
	for _, o := range options {
		if o.env[0] == env {
			return o.field()
		}
	}
	return env
}

// Validate checks every field and returns a *ConfigError listing every
// problem, each naming the setting and how to fix it.
func (c Config) Validate() error {
	var ps []Problem
	bad := func(env, format string, args ...any) {
		ps = append(ps, Problem{Field: fieldOf(env), Msg: fmt.Sprintf(format, args...)})
	}
	if c.RedisAddr == "" {
		bad("REDIS_ADDR", "is empty: set the Redis server as host:port, e.g. redis:6379")
	} else if _, _, err := net.SplitHostPort(c.RedisAddr); err != nil {
		bad("REDIS_ADDR", "%q is not host:port: write it like redis:6379", c.RedisAddr)
	}
	k := c.Keys()
	if k.Stream == k.Results || k.Stream == k.DeadLetter || k.Results == k.DeadLetter {
		bad("STREAM", "task, results and dead-letter streams must differ (got %q, %q, %q)", k.Stream, k.Results, k.DeadLetter)
	}
	if c.Consumer == "" {
		bad("CONSUMER_NAME", "is empty: set a name unique among the group's workers (in Kubernetes, the pod name)")
	}
	if c.Concurrency < 1 {
		bad("CONCURRENCY", "is %d: set it to the number of tasks one worker runs at once (at least 1)", c.Concurrency)
	}
	if c.ReadCount < 0 {
		bad("READ_COUNT", "is %d: use 0 for free slots or a positive cap such as 1", c.ReadCount)
	}
	if c.Block < time.Millisecond {
		bad("BLOCK", "is %s: set a blocking read time of at least 1ms, e.g. 2s", c.Block)
	}
	if c.Endpoint == "" {
		bad("INFERENCE_ENDPOINT", "is empty: set the OpenAI-compatible base URL, e.g. http://fakeinference:8000/v1")
	} else if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("INFERENCE_ENDPOINT", "%q is not an http(s) URL: write it like http://fakeinference:8000/v1", c.Endpoint)
	}
	if c.Model == "" {
		bad("MODEL_NAME", "is empty: set the model name the endpoint serves")
	}
	if c.CallTimeout <= 0 {
		bad("CALL_TIMEOUT", "is %s: set a positive limit on one inference call, e.g. 2m", c.CallTimeout)
	}
	if c.MaxRetries < 0 {
		bad("MAX_RETRIES", "is %d: set 0 (no retries) or more", c.MaxRetries)
	}
	if c.BackoffBase <= 0 {
		bad("BACKOFF_BASE", "is %s: set a positive first backoff, e.g. 250ms", c.BackoffBase)
	}
	if c.BackoffMax < c.BackoffBase {
		bad("BACKOFF_MAX", "is %s, below BACKOFF_BASE %s: set it to at least BACKOFF_BASE", c.BackoffMax, c.BackoffBase)
	}
	if c.ReclaimMinIdle <= 0 {
		bad("RECLAIM_MIN_IDLE", "is %s: set a positive idle time, e.g. 30s", c.ReclaimMinIdle)
	}
	if c.ReclaimInterval <= 0 {
		bad("RECLAIM_INTERVAL", "is %s: set a positive interval, e.g. 5s", c.ReclaimInterval)
	}
	if c.HeartbeatInterval < 0 {
		bad("HEARTBEAT_INTERVAL", "is %s: set 0 (RECLAIM_MIN_IDLE/3) or a positive interval", c.HeartbeatInterval)
	} else if c.ReclaimMinIdle > 0 && c.HeartbeatInterval >= c.ReclaimMinIdle {
		bad("HEARTBEAT_INTERVAL", "is %s, not below RECLAIM_MIN_IDLE %s: in-flight tasks would be reclaimed; set it to at most a third of RECLAIM_MIN_IDLE", c.HeartbeatInterval, c.ReclaimMinIdle)
	}
	if c.MaxDeliveries < 1 {
		bad("MAX_DELIVERIES", "is %d: set how many deliveries a task gets before it is dead-lettered (at least 1)", c.MaxDeliveries)
	}
	if c.ShutdownGrace < 0 {
		bad("SHUTDOWN_GRACE", "is %s: set 0 or a positive grace period, e.g. 25s", c.ShutdownGrace)
	}
	if c.StartupDelay < 0 {
		bad("STARTUP_DELAY", "is %s: set 0 or a positive delay", c.StartupDelay)
	}
	if c.HTTPAddr == "" {
		bad("HTTP_ADDR", "is empty: set a listen address such as :8080, or off")
	} else if c.HTTPAddr != "off" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			bad("HTTP_ADDR", "%q is not a listen address: write it like :8080 or 127.0.0.1:0, or off", c.HTTPAddr)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "is %q: use json or text", c.LogFormat)
	}
	if len(ps) == 0 {
		return nil
	}
	return &ConfigError{Problems: ps}
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("is %q: use debug, info, warn or error", s)
}

// NewLogger returns the structured logger the configuration asks for (level
// and format), writing to w (stderr in the command).
func NewLogger(w io.Writer, c Config) *slog.Logger {
	lvl, _ := parseLevel(c.LogLevel)
	o := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// WriteUsage writes the worker's --help text: every flag with its environment
// variable and default, then the variables that have no flag.
func WriteUsage(w io.Writer) {
	d := Defaults()
	fmt.Fprint(w, `Usage: worker [flags]

The burst agent worker: reads tasks from a Redis stream consumer group (at most
as many as it has free slots), runs each as an agent loop of streaming chat
completions against an OpenAI-compatible endpoint, records a result and acks.
Every flag can also be set by the environment variable shown; a flag wins.

Flags:
`)
	for _, o := range options {
		if o.flag == "" {
			continue
		}
		def := o.get(&d)
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%s %s\n        %s (env %s; default %s)\n", o.flag, o.arg, o.usage, o.env[0], def)
	}
	fmt.Fprint(w, "\nEnvironment only (kept off the command line):\n")
	for _, o := range options {
		if o.flag == "" {
			fmt.Fprintf(w, "  %s\n        %s\n", strings.Join(o.env, ", "), o.usage)
		}
	}
	fmt.Fprintf(w, "  HOSTNAME\n        default consumer name (the pod name in Kubernetes)\n")
	fmt.Fprint(w, `
Endpoints (HTTP_ADDR): /healthz (alive), /readyz (503 during STARTUP_DELAY,
before Redis is reached and after shutdown begins), /metrics (Prometheus).

Exit codes: 0 stopped gracefully (SIGTERM/SIGINT: stop reading, finish in-flight
tasks within SHUTDOWN_GRACE, leave the rest pending for reclaim); 1 could not
run (Redis unreachable, listen failed); 2 invalid configuration; 130 a second
signal arrived before the graceful stop finished.
`)
}
