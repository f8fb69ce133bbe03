// Package cluster gives burst a Kubernetes cluster to run against: a kind
// cluster it creates or reuses (it is the only package that imports the kind
// library), or an existing cluster named by a kubeconfig and context.
//
// Either way the result is a Target with a *rest.Config and a clientset. On a
// kind target images can also be loaded into every node, from docker-archive
// tarballs (see internal/images) or from the local docker daemon, skipping
// nodes that already hold the same image ID, so that `burst up` is idempotent
// and no image pull pollutes a scale-up figure.
//
// kind's API takes no context; every kind call here runs in a goroutine and
// the caller's context bounds the wait.
package cluster
