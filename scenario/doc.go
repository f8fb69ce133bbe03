// Package scenario reads, defaults and validates burst scenario files (load
// profile + scaler + worker + inference + SLOs + prices), sets fields by YAML
// path for sweeps, and lints a scenario for the KEDA redis-streams pitfalls.
// It is pure: no Redis, no Kubernetes.
package scenario
