package scenario_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/scenario"
)

func TestShippedScenariosLoad(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("shipped scenarios: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := scenario.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings, each must appear
	}{
		{"unknown field", "name: x\nprofile: spike-50\nscaler: {trigger: lag, lagCount: 5, pollingIntervall: 5s}\n",
			[]string{"bad.yaml: yaml:", "pollingIntervall", "correct its spelling"}},
		{"bare number duration", "name: x\nprofile: spike-50\nscaler: {trigger: lag, lagCount: 5, pollingInterval: 5}\n",
			[]string{`"5" is not a duration`, `"30s"`}},
		{"many problems", "profile: ''\nscaler: {trigger: lagg, maxReplicaCount: -1, pollingInterval: 1500ms}\nworker: {concurrency: -2}\n",
			[]string{"bad.yaml: name: is missing", "profile: is missing", `scaler.trigger: "lagg" is not a trigger mode (fix: use one of pending, lag`,
				"scaler.pollingInterval: 1.5s is not a whole number of seconds", "scaler.maxReplicaCount: is -1", "worker.concurrency: is -2"}},
		{"threshold for mode", "name: x\nprofile: p\nscaler: {trigger: lag+pending, lagCount: 5}\n",
			[]string{"scaler.pendingEntriesCount: must be > 0 for trigger lag+pending", "fix: set scaler.pendingEntriesCount"}},
		{"endpoint needs model", "name: x\nprofile: p\nscaler: {trigger: lag, lagCount: 1}\ninference: {endpoint: 'ftp://x', preset: instant}\n",
			[]string{"inference.endpoint", "inference.model: is required", "inference.preset"}},
		{"cpu needs request", "name: x\nprofile: p\nscaler: {trigger: cpu, minReplicaCount: 0}\n",
			[]string{"worker.resources.requests.cpu: is required", "minReplicaCount: a CPU HPA cannot scale to zero"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenario.Parse("bad.yaml", []byte(tc.yaml))
			var ve *scenario.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error = %v, want *ValidationError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%s", w, err)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := scenario.Parse("d.yaml", []byte("name: d\nprofile: spike-50\nscaler: {trigger: lag, lagCount: 5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Scaler.PollingInterval.Duration != 30*time.Second || s.Scaler.CooldownPeriod.Duration != 300*time.Second ||
		s.Scaler.MaxReplicaCount != 100 || s.Scaler.Min() != 0 || s.Target != "kind" || s.Worker.Concurrency != 4 {
		t.Errorf("defaults not KEDA's: %+v", s.Scaler)
	}
}

func TestSet(t *testing.T) {
	doc := []byte("name: x\nprofile: spike-50\nscaler:\n  trigger: lag\n  lagCount: 5\n")
	for _, kv := range [][2]string{{"scaler.lagCount", "20"}, {"scaler.pollingInterval", "15s"}, {"scaler.trigger", "lag+pending"},
		{"scaler.pendingEntriesCount", "3"}, {"worker.concurrency", "8"}, {"name", "y"}} {
		var err error
		if doc, err = scenario.Set(doc, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	s, err := scenario.Parse("set.yaml", doc)
	if err != nil {
		t.Fatalf("after Set: %v\n%s", err, doc)
	}
	if s.Scaler.LagCount != 20 || s.Scaler.PollingInterval.Duration != 15*time.Second || s.Scaler.Trigger != "lag+pending" ||
		s.Worker.Concurrency != 8 || s.Name != "y" {
		t.Errorf("Set did not apply: %+v %+v", s.Scaler, s.Worker)
	}
	if _, err := scenario.Set(doc, "name.sub", "1"); err == nil {
		t.Error("Set through a scalar succeeded, want an error")
	}
}

func TestLint(t *testing.T) {
	codes := func(fs []scenario.Finding) []string {
		var c []string
		for _, f := range fs {
			c = append(c, f.Code)
		}
		return c
	}
	tests := []struct {
		name  string
		yaml  string
		facts scenario.LintFacts
		want  []string
	}{
		{"seed article", "scaler: {trigger: pending, pendingEntriesCount: 10, minReplicaCount: 0, maxReplicaCount: 50}\nworker: {concurrency: 4}",
			scenario.LintFacts{}, []string{"pending-from-zero", "pending-backlog-invisible"}},
		{"pending min 1 wide workers", "scaler: {trigger: pending, pendingEntriesCount: 2, minReplicaCount: 1}\nworker: {concurrency: 8}",
			scenario.LintFacts{}, nil},
		{"pending one at a time", "scaler: {trigger: pending, pendingEntriesCount: 2, minReplicaCount: 1}\nworker: {concurrency: 8, readCount: 1}",
			scenario.LintFacts{}, []string{"pending-backlog-invisible"}},
		{"lag long tasks", "scaler: {trigger: lag, lagCount: 5, cooldownPeriod: 30s}",
			scenario.LintFacts{TaskDuration: time.Minute}, []string{"lag-scale-to-zero-in-flight"}},
		{"lag short tasks", "scaler: {trigger: lag, lagCount: 5, cooldownPeriod: 30s}",
			scenario.LintFacts{TaskDuration: time.Second}, nil},
		{"lag+pending", "scaler: {trigger: lag+pending, lagCount: 5, pendingEntriesCount: 4}",
			scenario.LintFacts{TaskDuration: time.Hour, RedisVersion: "7.0.15"}, nil},
		{"length untrimmed", "scaler: {trigger: length, streamLength: 10}", scenario.LintFacts{}, []string{"length-without-trim"}},
		{"length trimmed", "scaler: {trigger: length, streamLength: 10, streamMaxLen: 1000}", scenario.LintFacts{}, nil},
		{"activation", "scaler: {trigger: lag+pending, lagCount: 5, pendingEntriesCount: 4, activationLagCount: 1}",
			scenario.LintFacts{SmallestBurst: 1, TaskDuration: time.Second}, []string{"activation-off-by-one"}},
		{"old redis", "scaler: {trigger: lag+pending, lagCount: 5, pendingEntriesCount: 4}",
			scenario.LintFacts{RedisVersion: "6.2.14"}, []string{"lag-needs-redis-7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenario.Parse("lint.yaml", []byte("name: l\nprofile: spike-50\n"+tc.yaml+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			fs := scenario.Lint(s, tc.facts)
			if got := codes(fs); !slices.Equal(got, tc.want) {
				t.Errorf("Lint = %v, want %v", got, tc.want)
			}
			for _, f := range fs {
				if f.Message == "" || f.Reason == "" || f.Fix == "" || f.Field == "" {
					t.Errorf("finding %s lacks message, reason, fix or field: %+v", f.Code, f)
				}
			}
		})
	}
}
