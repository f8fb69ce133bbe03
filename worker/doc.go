// Package worker is burst's agent worker: it reads tasks from the Redis
// stream's consumer group, runs each task as an agent loop of streaming
// chat-completion calls against an OpenAI-compatible endpoint, records a result
// per task and acks it.
//
// Reliability model (at-least-once):
//
//   - XREADGROUP asks for at most as many entries as the worker has free slots,
//     so one worker never holds more entries than it can start now (KEDA fact
//     #5 in DESIGN.md).
//   - A task is acked only together with its result record (queue.Client.Complete).
//   - Inference calls are retried with exponential backoff and jitter on 408,
//     429, 5xx, timeouts, connection errors and cut streams. A task whose
//     retries run out is left pending; it is redelivered by reclaim.
//     A task that fails with any other 4xx is recorded as failed and acked.
//   - Entries pending longer than the reclaim min-idle time are taken over with
//     XAUTOCLAIM, only up to the free slots. The worker resets the idle time of
//     its own in-flight entries every heartbeat interval (XCLAIM JUSTID) so a
//     long task is never mistaken for an abandoned one.
//   - A delivery whose count reaches the maximum and still fails (or cannot be
//     decoded) is moved to the dead-letter stream; one that arrives with a count
//     above the maximum is dead-lettered without being run.
//   - On shutdown (the context passed to Run is cancelled) the worker stops
//     reading, lets in-flight tasks finish within the grace period, and leaves
//     everything else pending for other workers to reclaim.
//
// Configuration comes from a Config, which ConfigFromEnv and ParseArgs build
// from environment variables and flags the way a container is configured.
package worker
