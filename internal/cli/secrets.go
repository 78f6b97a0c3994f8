package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/secrets"
)

func newSecrets() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage the key that encrypts webhook secrets at rest",
		Long: `Webhook secrets (signing secrets, basic-auth passwords, OAuth2 client secrets, custom header values)
are encrypted with AES-256-GCM under the keys of ` + secrets.EnvKey + ` (comma-separated, newest first) or,
without it, the key file <data>/` + secrets.KeyFile + `.

To rotate: put a new key (herald secrets newkey) in front of the old one in ` + secrets.EnvKey + `
on every replica and restart them, run herald secrets reseal, then drop the old key.`,
	}
	newKey := &cobra.Command{
		Use: "newkey", Short: "Print a fresh random key", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := secrets.NewKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		},
	}
	var w where
	reseal := &cobra.Command{
		Use: "reseal", Short: "Re-encrypt every webhook's secrets with the first key", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, w)
			if err != nil {
				return err
			}
			defer st.Close()
			r, ok := st.(interface {
				Reseal(ctx context.Context) (int, error)
			})
			if !ok {
				return fmt.Errorf("this store cannot re-encrypt")
			}
			n, err := r.Reseal(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-encrypted the secrets of %d webhooks\n", n)
			// Broker sources keep credentials in their URLs.
			if rs, ok := st.(interface {
				ResealSources(ctx context.Context) (int, error)
			}); ok {
				n, err := rs.ResealSources(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "re-encrypted the URLs of %d sources\n", n)
			}
			return nil
		},
	}
	dataFlag(reseal, &w)
	cmd.AddCommand(newKey, reseal)
	return cmd
}
