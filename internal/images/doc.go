// Package images builds burst's own container images, the agent worker and
// the fake inference server, from this repository without pulling anything:
// it cross-compiles static binaries (CGO_ENABLED=0) and assembles each into a
// one-layer image with go-containerregistry (binary, /etc/passwd with
// nonroot, the host's CA certificates, /tmp), written as a docker-archive
// tarball that kind nodes (internal/cluster) and `docker load` accept.
//
// Tags are derived from the image content (burst/worker:<config digest
// prefix>), never :latest, so a changed binary gives a new tag and
// imagePullPolicy IfNotPresent always runs the image just built.
package images
