// Package sweep runs a scenario over the cartesian product of settings, each
// configuration a given number of times, into one sweep directory:
//
//	<dir>/sweep.json                    the manifest: settings, repeats, every run's status
//	<dir>/<k1=v1,k2=v2>/rep-<i>/        one run directory per configuration and repeat
//
// It does not know how a run is made: the caller passes a RunFunc (the local
// target's runner, or the cluster's), so one sweep drives any target. A sweep
// is resumable: a run directory that holds a complete run of the same
// configuration, repeat and fingerprint is kept, not redone. A run that is
// interrupted or fails is set aside as <run dir>.incomplete, so the directory
// only ever holds complete runs.
package sweep
