// Package loadprofiles parses, validates and schedules burst's load
// profiles.
//
// A profile is a YAML file that describes load in time: a list of stages
// (burst, constant, ramp, poisson, waves, business-day, replay), each
// producing task arrivals, and the distributions of each task's attributes
// (LLM calls per task, prompt and output tokens, priority). The load is
// open-loop: arrivals never wait for earlier tasks to complete.
//
// Profile.Schedule turns a profile into a Schedule, the sorted list of every
// task's intended enqueue time and attributes. The same profile and seed
// always give the same schedule; WithSeed gives a copy with another seed.
//
// Profiles come from files (Load, Parse), from the profiles shipped inside
// the package (Builtin, BuiltinNames), or either (Resolve). Invalid input is
// reported as a *ValidationError listing every problem at once, each with
// the file, line, field path, what is wrong and how to fix it.
//
// The package is pure: it imports neither Redis nor Kubernetes. The format
// is documented in docs/profiles.md.
package loadprofiles
