package worker

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envMap turns "K=V" pairs into a getenv function.
func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for _, p := range kv {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		env   []string
		args  []string
		check func(t *testing.T, c Config)
	}{
		{
			name: "defaults with the required endpoint",
			env:  []string{"INFERENCE_ENDPOINT=http://fi:8000/v1", "HOSTNAME=pod-abc"},
			check: func(t *testing.T, c Config) {
				want := Defaults()
				want.Endpoint = "http://fi:8000/v1"
				want.Consumer = "pod-abc"
				if c != want {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "environment sets every kind of field",
			env: []string{"INFERENCE_ENDPOINT=http://fi:8000/v1", "REDIS_ADDR=redis:6379", "REDIS_PASSWORD=pw",
				"STREAM_PREFIX=p", "STREAM=custom:tasks", "CONCURRENCY=8", "READ_COUNT=1", "BLOCK=5s",
				"MODEL_NAME=m", "OPENAI_API_KEY=sk-o", "CALL_TIMEOUT=30s", "MAX_RETRIES=2",
				"RECLAIM_MIN_IDLE=1m", "MAX_DELIVERIES=3", "SHUTDOWN_GRACE=5s", "STARTUP_DELAY=2s",
				"HTTP_ADDR=:9090", "LOG_FORMAT=text", "CONSUMER_NAME=me", "HOSTNAME=ignored"},
			check: func(t *testing.T, c Config) {
				k := c.Keys()
				if c.RedisAddr != "redis:6379" || c.RedisPassword != "pw" || k.Stream != "custom:tasks" ||
					k.Group != "p-workers" || k.Results != "p:results" || c.Concurrency != 8 || c.ReadCount != 1 ||
					c.Block != 5*time.Second || c.Model != "m" || c.APIKey != "sk-o" || c.CallTimeout != 30*time.Second ||
					c.MaxRetries != 2 || c.ReclaimMinIdle != time.Minute || c.MaxDeliveries != 3 ||
					c.ShutdownGrace != 5*time.Second || c.StartupDelay != 2*time.Second || c.HTTPAddr != ":9090" ||
					c.LogFormat != "text" || c.Consumer != "me" {
					t.Errorf("got %+v", c)
				}
				if c.heartbeat() != 20*time.Second {
					t.Errorf("heartbeat %s, want RECLAIM_MIN_IDLE/3 = 20s", c.heartbeat())
				}
			},
		},
		{
			name: "INFERENCE_API_KEY wins over OPENAI_API_KEY",
			env:  []string{"INFERENCE_ENDPOINT=http://fi/v1", "CONSUMER_NAME=x", "INFERENCE_API_KEY=a", "OPENAI_API_KEY=b"},
			check: func(t *testing.T, c Config) {
				if c.APIKey != "a" {
					t.Errorf("APIKey %q, want a", c.APIKey)
				}
			},
		},
		{
			name: "flags win over the environment",
			env:  []string{"INFERENCE_ENDPOINT=http://env/v1", "CONCURRENCY=2", "CONSUMER_NAME=env"},
			args: []string{"--inference-endpoint", "http://flag/v1", "-concurrency=5", "--consumer=flag", "--read-count", "1"},
			check: func(t *testing.T, c Config) {
				if c.Endpoint != "http://flag/v1" || c.Concurrency != 5 || c.Consumer != "flag" || c.ReadCount != 1 {
					t.Errorf("got endpoint %q concurrency %d consumer %q read count %d", c.Endpoint, c.Concurrency, c.Consumer, c.ReadCount)
				}
			},
		},
		{
			name: "no HOSTNAME: host and pid",
			env:  []string{"INFERENCE_ENDPOINT=http://fi/v1"},
			check: func(t *testing.T, c Config) {
				if !strings.HasSuffix(c.Consumer, "-"+strconv.Itoa(os.Getpid())) {
					t.Errorf("consumer %q, want host-pid", c.Consumer)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseArgs(tc.args, envMap(tc.env...), &bytes.Buffer{})
			if err != nil {
				t.Fatalf("ParseArgs: %v", err)
			}
			tc.check(t, c)
		})
	}
}

// Invalid settings are reported all at once, each naming the variable (and
// flag) and saying how to fix it.
func TestParseArgsProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string // substrings of the error, one per problem
	}{
		{"missing endpoint", []string{"CONSUMER_NAME=x"}, nil,
			[]string{"INFERENCE_ENDPOINT (--inference-endpoint): is empty: set the OpenAI-compatible base URL"}},
		{"endpoint not a URL", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=fakeinference:8000"}, nil,
			[]string{`INFERENCE_ENDPOINT (--inference-endpoint): "fakeinference:8000" is not an http(s) URL`}},
		{"unparsable values", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1", "CONCURRENCY=four", "BLOCK=2"}, nil,
			[]string{`CONCURRENCY: "four" is not a whole number`, `BLOCK: "2" is not a duration`}},
		{"out of range", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1", "CONCURRENCY=0", "MAX_DELIVERIES=0",
			"READ_COUNT=-1", "BACKOFF_BASE=1s", "BACKOFF_MAX=10ms", "LOG_LEVEL=loud", "LOG_FORMAT=xml"}, nil,
			[]string{"CONCURRENCY (--concurrency): is 0", "MAX_DELIVERIES (--max-deliveries): is 0", "READ_COUNT (--read-count): is -1",
				"BACKOFF_MAX (--backoff-max): is 10ms, below BACKOFF_BASE 1s", `LOG_LEVEL (--log-level): is "loud"`, `LOG_FORMAT (--log-format): is "xml"`}},
		{"heartbeat not below min-idle", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1", "RECLAIM_MIN_IDLE=1s", "HEARTBEAT_INTERVAL=1s"}, nil,
			[]string{"HEARTBEAT_INTERVAL (--heartbeat-interval): is 1s, not below RECLAIM_MIN_IDLE 1s"}},
		{"bad flag values", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1"}, []string{"--redis-addr", "nohost", "--call-timeout=-1s"},
			[]string{`REDIS_ADDR (--redis-addr): "nohost" is not host:port`, "CALL_TIMEOUT (--call-timeout): is -1s"}},
		{"unparsable flag", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1"}, []string{"--max-retries=lots"},
			[]string{`--max-retries: "lots" is not a whole number`}},
		{"unknown flag", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1"}, []string{"--concurency=3"},
			[]string{"command line: flag provided but not defined: -concurency (see --help)"}},
		{"stray argument", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1"}, []string{"CONCURRENCY=3"},
			[]string{`command line: unexpected argument "CONCURRENCY=3"`}},
		{"same stream twice", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1", "STREAM=s", "RESULTS_STREAM=s"}, nil,
			[]string{"STREAM (--stream): task, results and dead-letter streams must differ"}},
		{"http addr", []string{"CONSUMER_NAME=x", "INFERENCE_ENDPOINT=http://h/v1", "HTTP_ADDR=8080"}, nil,
			[]string{`HTTP_ADDR (--http-addr): "8080" is not a listen address`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseArgs(tc.args, envMap(tc.env...), &bytes.Buffer{})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseArgs: %v (%T), want a *ConfigError", err, err)
			}
			if len(ce.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := ParseArgs([]string{"--help"}, envMap(), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("ParseArgs(--help): %v, want flag.ErrHelp", err)
	}
	for _, o := range options {
		if o.flag != "" && !strings.Contains(out.String(), "--"+o.flag+" ") {
			t.Errorf("--help lacks --%s", o.flag)
		}
		for _, e := range o.env {
			if !strings.Contains(out.String(), e) {
				t.Errorf("--help lacks %s", e)
			}
		}
	}
}

// docs/worker.md documents every variable and flag.
func TestDocsListEverySetting(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/worker.md")
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	doc := string(b)
	for _, o := range options {
		for _, e := range o.env {
			if !strings.Contains(doc, "`"+e+"`") {
				t.Errorf("docs/worker.md lacks `%s`", e)
			}
		}
		if o.flag != "" && !strings.Contains(doc, "`--"+o.flag+"`") {
			t.Errorf("docs/worker.md lacks `--%s`", o.flag)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	base, maxD := 100*time.Millisecond, time.Second
	for _, tc := range []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{"first retry", 0, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{"third retry doubles twice", 2, 0, 200 * time.Millisecond, 400 * time.Millisecond},
		{"capped", 10, 0, 500 * time.Millisecond, time.Second},
		{"Retry-After longer than backoff", 0, 700 * time.Millisecond, 700 * time.Millisecond, 700 * time.Millisecond},
		{"Retry-After capped at max", 0, time.Minute, time.Second, time.Second},
		{"Retry-After shorter than backoff", 3, time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for i := 0; i < 200; i++ {
				if d := backoff(base, maxD, tc.attempt, tc.retryAfter); d < tc.lo || d > tc.hi {
					t.Fatalf("backoff = %s, want within [%s, %s]", d, tc.lo, tc.hi)
				}
			}
		})
	}
}

// ConfigFromEnv is ParseArgs without flags.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	getenv := envMap("INFERENCE_ENDPOINT=http://fi/v1", "CONSUMER_NAME=c", "CONCURRENCY=3", "READ_COUNT=1")
	got, err := ConfigFromEnv(getenv)
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	want, _ := ParseArgs(nil, getenv, &bytes.Buffer{})
	if got != want || got.Concurrency != 3 || got.ReadCount != 1 {
		t.Errorf("ConfigFromEnv = %+v\nwant %+v", got, want)
	}
	_, err = ConfigFromEnv(envMap("CONSUMER_NAME=c", "MAX_RETRIES=-1"))
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Errorf("ConfigFromEnv with two bad settings: %v, want a *ConfigError with 2 problems", err)
	}
}
