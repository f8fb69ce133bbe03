// Package fakeinference is an OpenAI-compatible fake inference server that
// behaves like a loaded GPU serving an LLM with vLLM.
//
// It answers POST /v1/chat/completions and POST /v1/completions (JSON and
// server-sent-event streaming, one chunk per token), GET /v1/models,
// /healthz, /readyz, /metrics (vLLM metric names) and GET/POST /admin/config.
//
// The latency model: a request first waits for one of max-num-seqs slots in a
// bounded FIFO queue (a full queue answers 429 with Retry-After); then its
// first token arrives after
//
//	TTFT = (prefill-overhead + prompt tokens × prefill-time-per-token) × load factor
//
// and every further token after inter-token-latency × load factor, where
//
//	load factor = 1 + (time-factor-under-load − 1)(running − 1)/(max-num-seqs − 1).
//
// Every latency knob has a standard deviation; jitter is drawn from a normal
// distribution seeded by seed and the request's arrival number, and clamped
// to mean ± 2σ (never below zero). Token deadlines are absolute (start + TTFT
// + the sum of the inter-token gaps), so scheduling errors do not accumulate.
//
// Faults (429, 500, 503, a hang until the client gives up, a stream cut
// mid-way) are drawn per request from the seed and the arrival number, so a
// run with the same seed and the same number of requests sees the same faults.
//
// Configuration is a [Config]; its JSON and YAML keys equal the command-line
// flag names of cmd/fakeinference (inter-token-latency: 12ms ↔
// --inter-token-latency=12ms), durations are written as strings such as "12ms".
// [Preset] returns ready-made configurations; [Knobs] lists every key with its
// help text and environment variable.
//
// Streamed tokens are written by a few pacer goroutines that sleep on a
// timerfd (Linux) until the next deadline, not by a sleeping goroutine per
// request; with [Server.Serve], or [Server.ConnContext] set on your own
// http.Server, they write each token's chunk straight to the socket.
//
// The package imports no Kubernetes or Redis code; it is used in-process by
// burst's local target (Serve on a loopback port) and tests, and as a
// container by the kind target.
package fakeinference
