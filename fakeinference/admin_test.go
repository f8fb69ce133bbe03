package fakeinference_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/burstbench/burst/fakeinference"
)

func TestAdminConfigChangeTakesEffectForNewRequests(t *testing.T) {
	// Not parallel: timing is checked, so it runs before the parallel tests.
	s, ts, client := start(t, instant(t, nil))

	resp, err := http.Get(ts.URL + "/admin/config")
	if err != nil {
		t.Fatalf("GET /admin/config: %v", err)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode /admin/config: %v", err)
	}
	resp.Body.Close()
	for _, k := range fakeinference.Knobs() {
		if _, ok := got[k.Name]; !ok {
			t.Errorf("GET /admin/config has no key %q", k.Name)
		}
	}
	if got["inter-token-latency"] != "0s" {
		t.Errorf("inter-token-latency = %v, want \"0s\"", got["inter-token-latency"])
	}

	before := streamChat(context.Background(), client, chatParams(5, "before"))
	// A running request keeps its settings; a new one gets the new ones.
	slowDone := make(chan streamTiming, 1)
	code, _, body := post(t, ts.URL+"/admin/config", `{"inter-token-latency": "30ms"}`)
	if code != http.StatusOK || !strings.Contains(body, `"inter-token-latency": "30ms"`) {
		t.Fatalf("POST /admin/config = %d %s; want 200 with the new value", code, body)
	}
	go func() { slowDone <- streamChat(context.Background(), client, chatParams(5, "after")) }()
	after := <-slowDone
	if before.streamErr != nil || after.streamErr != nil {
		t.Fatalf("stream errors: %v, %v", before.streamErr, after.streamErr)
	}
	if before.total > 60*time.Millisecond {
		t.Errorf("before the change: 5 tokens took %v, want near 0", before.total)
	}
	if min := 4*30*time.Millisecond - time.Millisecond; after.total < min {
		t.Errorf("after the change: 5 tokens took %v, want ≥ %v", after.total, min)
	}
	if s.Config().InterTokenLatency != 30*time.Millisecond {
		t.Errorf("Config().InterTokenLatency = %v, want 30ms", s.Config().InterTokenLatency)
	}

	// YAML works too, and other keys keep their values.
	code, _, body = post(t, ts.URL+"/admin/config", "fault-500-rate: 0.25\n")
	if code != http.StatusOK {
		t.Fatalf("POST YAML = %d %s", code, body)
	}
	if c := s.Config(); c.Fault500Rate != 0.25 || c.InterTokenLatency != 30*time.Millisecond {
		t.Errorf("after YAML POST: fault-500-rate %v, inter-token-latency %v; want 0.25, 30ms", c.Fault500Rate, c.InterTokenLatency)
	}

	// A preset resets everything else.
	code, _, body = post(t, ts.URL+"/admin/config", `{"preset": "h200-70b", "max-num-seqs": 7}`)
	if code != http.StatusOK {
		t.Fatalf("POST preset = %d %s", code, body)
	}
	want := fakeinference.MustPreset(fakeinference.PresetH200_70B)
	if c := s.Config(); c.MaxNumSeqs != 7 || c.InterTokenLatency != want.InterTokenLatency || c.Fault500Rate != 0 || c.Preset != "h200-70b" {
		t.Errorf("after preset POST: %+v", c)
	}
}

func TestAdminConfigRejectsBadChangesNamingEveryProblem(t *testing.T) {
	t.Parallel()
	s, ts, _ := start(t, instant(t, nil))
	before := s.Config()
	code, _, body := post(t, ts.URL+"/admin/config", `{"max-num-seqs": 0, "inter-token-latency": "fast", "fault-hang-rate": 2, "inter-token-latncy": "1ms"}`)
	if code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", code, body)
	}
	var e struct {
		Error struct {
			Type     string   `json:"type"`
			Problems []string `json:"problems"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if len(e.Error.Problems) != 4 {
		t.Errorf("got %d problems, want 4 (one per bad key): %q", len(e.Error.Problems), e.Error.Problems)
	}
	all := strings.Join(e.Error.Problems, "\n")
	for _, want := range []string{"max-num-seqs:", "inter-token-latency:", "fault-hang-rate:", `inter-token-latncy: unknown key; did you mean "inter-token-latency"`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems %q do not mention %q", e.Error.Problems, want)
		}
	}
	if after := s.Config(); after.MaxNumSeqs != before.MaxNumSeqs || after.FaultHangRate != 0 {
		t.Errorf("a rejected change was applied: %+v", after)
	}
	if err := s.SetConfig(fakeinference.Config{}); err == nil {
		t.Errorf("SetConfig(zero Config) = nil, want the problems")
	}
	// GET still answers the old config.
	resp, err := http.Get(ts.URL + "/admin/config")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"max-num-seqs": 100000`) {
		t.Errorf("GET after rejected changes: %s", b)
	}
}
