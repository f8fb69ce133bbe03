package fakeinference

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Bucket bounds follow vLLM's metrics (vllm/v1/metrics/loggers.py), with finer
// inter-token latency buckets below 50 ms.
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets  = []float64{0.001, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	e2eBuckets  = []float64{0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

// metrics are one server's Prometheus collectors, on its own registry.
type metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	ttft, itl, e2e, queue prometheus.Observer
	lateness              prometheus.Observer
	promptTokens          prometheus.Counter
	generationTokens      prometheus.Counter
	success               *prometheus.CounterVec // finished_reason
	requests              *prometheus.CounterVec // handler, method, status
	faults                *prometheus.CounterVec // kind

	mu          sync.Mutex
	statusNames map[int]string
}

func newMetrics(modelName string, sl *slots) *metrics {
	labels := prometheus.Labels{"model_name": modelName}
	reg := prometheus.NewRegistry()
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: labels})
		reg.MustRegister(h)
		return h
	}
	m := &metrics{reg: reg, statusNames: map[int]string{}}
	m.ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds (arrival to first token, queue included).", ttftBuckets)
	m.itl = hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itlBuckets)
	m.e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", e2eBuckets)
	m.lateness = hist("fakeinference_token_lateness_seconds", "Histogram of how late each streamed token was written after its deadline in the latency model: the fake server's own fidelity (high values mean it is CPU-starved; tokens sent up to 0.3 ms early count in the lowest bucket).",
		[]float64{0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1})
	m.queue = hist("vllm:request_queue_time_seconds", "Histogram of time spent in the waiting queue in seconds.", e2eBuckets)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vllm:num_requests_running", Help: "Number of requests running (holding one of max-num-seqs slots).", ConstLabels: labels,
	}, func() float64 { return float64(sl.running.Load()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vllm:num_requests_waiting", Help: "Number of requests waiting in the queue.", ConstLabels: labels,
	}, func() float64 { return float64(sl.waiting.Load()) }))
	m.promptTokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "vllm:prompt_tokens_total", Help: "Number of prefill tokens processed.", ConstLabels: labels})
	m.generationTokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "vllm:generation_tokens_total", Help: "Number of generation tokens sent.", ConstLabels: labels})
	m.success = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vllm:request_success_total", Help: "Count of successfully processed requests by finish reason.", ConstLabels: labels}, []string{"finished_reason"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "Inference and model requests by handler, method and HTTP status code (\"aborted\": connection dropped without a status, by a hang or cut fault or a client that gave up first).",
	}, []string{"handler", "method", "status"})
	m.faults = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fakeinference_faults_injected_total", Help: "Faults injected by kind.", ConstLabels: labels}, []string{"kind"})
	reg.MustRegister(m.promptTokens, m.generationTokens, m.success, m.requests, m.faults)
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// countRequest counts one finished request; status 0 means aborted.
func (m *metrics) countRequest(handler, method string, status int) {
	m.requests.WithLabelValues(handler, method, m.statusName(status)).Inc()
}

func (m *metrics) statusName(status int) string {
	if status == 0 {
		return "aborted"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.statusNames[status]
	if !ok {
		s = strconv.Itoa(status)
		m.statusNames[status] = s
	}
	return s
}
