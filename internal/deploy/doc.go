// Package deploy installs and renders everything burst runs on a cluster:
// KEDA and metrics-server from their release manifests, Redis, the fake
// inference server, and, per scenario, the worker Deployment with its scaling
// object (a KEDA ScaledObject with redis-streams triggers, or a plain CPU
// HorizontalPodAutoscaler for the baseline).
//
// Every object goes through one path: server-side apply with the field
// manager "burst" via the dynamic client and a discovery REST mapper, so
// applying twice is a no-op and KEDA's large CRDs fit. Waits have explicit
// timeouts and errors that name what was waited for and what was last seen.
// Installation is a list of named Steps run with a progress callback, which
// the CLI shows as progress bars (`burst up`).
package deploy
