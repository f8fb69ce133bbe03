package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the worker's Prometheus series, on a registry of its own so
// several workers can run in one process (tests).
type metrics struct {
	reg       *prometheus.Registry
	tasks     *prometheus.CounterVec   // status: completed, failed, dead_lettered
	abandoned *prometheus.CounterVec   // reason: retries_exhausted, undecodable, shutdown, record_failed
	received  *prometheus.CounterVec   // source: read, reclaim
	inFlight  prometheus.Gauge         // tasks running now
	slots     prometheus.Gauge         // configured concurrency
	ready     prometheus.Gauge         // 1 when /readyz answers 200
	callDur   *prometheus.HistogramVec // outcome: ok, retryable, fatal
	ttft      prometheus.Histogram
	retries   *prometheus.CounterVec // reason: 429, 5xx, timeout, connection, stream_cut, …
	taskDur   prometheus.Histogram   // service time of completed tasks
	lost      prometheus.Counter     // in-flight entries another consumer took over
	redisErrs *prometheus.CounterVec // op: read, reclaim, touch, record
}

func newMetrics(concurrency int) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{
		reg: reg,
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "burst_worker_tasks_total",
			Help: "Tasks finished with a result record, by status (completed, failed, dead_lettered).",
		}, []string{"status"}),
		abandoned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "burst_worker_deliveries_abandoned_total",
			Help: "Deliveries left pending for reclaim, by reason (retries_exhausted, undecodable, shutdown, record_failed).",
		}, []string{"reason"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "burst_worker_entries_received_total",
			Help: "Stream entries received, by source (read: XREADGROUP, reclaim: XAUTOCLAIM).",
		}, []string{"source"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "burst_worker_tasks_in_flight",
			Help: "Tasks running now.",
		}),
		slots: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "burst_worker_slots",
			Help: "Configured concurrency: tasks the worker runs at once.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "burst_worker_ready",
			Help: "1 when the worker is ready (start-up delay over, Redis reached, not shutting down).",
		}),
		callDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "burst_worker_inference_call_duration_seconds",
			Help:    "Duration of one inference call attempt (whole stream), by outcome (ok, retryable, fatal).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"outcome"}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "burst_worker_inference_ttft_seconds",
			Help:    "Time to first token of successful inference calls.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "burst_worker_inference_retries_total",
			Help: "Inference calls retried, by reason (429, 5xx, 408, timeout, connection, stream_cut, stream_error, other).",
		}, []string{"reason"}),
		taskDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "burst_worker_task_duration_seconds",
			Help:    "Service time (first step start to result) of completed tasks.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "burst_worker_ownership_lost_total",
			Help: "In-flight entries that another consumer reclaimed or acked first (their results may be duplicated).",
		}),
		redisErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "burst_worker_redis_errors_total",
			Help: "Redis commands that failed, by operation (read, reclaim, touch, record).",
		}, []string{"op"}),
	}
	f(m.tasks)
	f(m.abandoned)
	f(m.received)
	f(m.inFlight)
	f(m.slots)
	f(m.ready)
	f(m.callDur)
	f(m.ttft)
	f(m.retries)
	f(m.taskDur)
	f(m.lost)
	f(m.redisErrs)
	m.slots.Set(float64(concurrency))
	return m
}

// httpServer serves /healthz, /readyz and /metrics.
type httpServer struct {
	srv *http.Server
	ln  net.Listener
}

// startHTTP listens on addr and serves until shutdown is called.
func startHTTP(addr string, m *metrics, ready *atomic.Bool, log *slog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on HTTP_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	s := &httpServer{
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		ln:  ln,
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("http server listening", "addr", ln.Addr().String())
	return s, nil
}

func (s *httpServer) shutdown() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
