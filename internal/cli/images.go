package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/burstbench/burst/internal/images"
)

func init() { register(newImagesCmd) }

func newImagesCmd(s Streams) *cobra.Command {
	var (
		o      images.Options
		docker bool
	)
	cmd := &cobra.Command{
		Use:   "images [--docker]",
		Short: "Build the worker and fakeinference images from this source tree",
		Long: `images cross-compiles cmd/worker and cmd/fakeinference (CGO_ENABLED=0) and
assembles each into an image without a base image and without pulling anything.
Tags come from the image content (burst/worker:3f2a9c0d1e4b), so a changed
binary gets a new tag. The image tarballs go to dist/images/; --docker also
loads them into the local docker daemon, ready to push to a registry for
clusters that are not kind (then pass --worker-image and --fakeinference-image
to up and run). burst up builds and loads them into kind by itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = s.Err
			imgs, err := images.Build(cmd.Context(), o)
			if err != nil {
				return err
			}
			if docker {
				if err := images.DockerLoad(cmd.Context(), imgs); err != nil {
					return err
				}
			}
			for _, img := range imgs {
				fmt.Fprintf(s.Out, "%s\t%s\n", img.Ref, img.TarPath)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.RepoRoot, "repo-root", ".", "burst source tree")
	cmd.Flags().StringVar(&o.OutDir, "out", "", "directory for the binaries and tarballs (default REPO/dist/images)")
	cmd.Flags().StringVar(&o.Repository, "repository", "", "image repository prefix (default burst), e.g. registry.local/burst")
	cmd.Flags().BoolVar(&docker, "docker", false, "also docker load the images")
	return cmd
}
