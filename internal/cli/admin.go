package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/auth"
	"github.com/heraldhq/herald/internal/service"
	"github.com/heraldhq/herald/internal/store"
)

// where is the database an administration command works on.
type where struct{ dir, url string }

// dataFlag adds --data and --database-url to an administration command.
func dataFlag(cmd *cobra.Command, w *where) {
	cmd.Flags().StringVar(&w.dir, "data", "./herald-data", "directory of the embedded SQLite database")
	cmd.Flags().StringVar(&w.url, "database-url", "", "PostgreSQL URL (default: embedded SQLite in --data)")
	addEnvToUsage(cmd)
}

func openStore(cmd *cobra.Command, w where) (service.Backend, error) {
	ctx, cancel := openContext(cmd)
	defer cancel()
	return service.OpenStore(ctx, w.dir, w.url, nil)
}

func newMigrate() *cobra.Command {
	var dir where
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date (serve also does this at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintln(cmd.OutOrStdout(), "database schema is up to date")
			return nil
		},
	}
	dataFlag(cmd, &dir)
	return cmd
}

func newTenants() *cobra.Command {
	cmd := &cobra.Command{Use: "tenants", Short: "List and create tenants"}
	var dir where
	list := &cobra.Command{
		Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			page := store.Page{Limit: 1000}
			for {
				ts, paging, err := st.Tenants(cmd.Context(), page)
				if err != nil {
					return err
				}
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, t.Name, t.Created.Format(time.RFC3339))
				}
				if !paging.HasMore {
					break
				}
				page.After = paging.After
			}
			return tw.Flush()
		},
	}
	dataFlag(list, &dir)
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a tenant and print its first client key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			now := time.Now().UTC()
			t := store.Tenant{ID: uuid.Must(uuid.NewV7()).String(), Name: args[0], Created: now}
			k, key, err := auth.NewAPIKey(t.ID, store.RoleClient, now)
			if err != nil {
				return err
			}
			if err := st.CreateTenant(cmd.Context(), t, k); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tenant %s (%s)\nclient key (shown once): %s\n", t.Name, t.ID, key)
			return nil
		},
	}
	dataFlag(create, &dir)
	cmd.AddCommand(list, create)
	return cmd
}

func newKeys() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "List, create and revoke API keys"}
	var (
		dir  where
		role string
	)
	list := &cobra.Command{
		Use: "list [TENANT]", Short: "List API keys (of one tenant, by id or name)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			tenantID := ""
			if len(args) == 1 {
				t, err := st.Tenant(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				tenantID = t.ID
			}
			keys, err := st.APIKeys(cmd.Context(), tenantID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTENANT\tROLE\tPREFIX\tCREATED\tREVOKED")
			for _, k := range keys {
				revoked := "-"
				if k.Revoked != nil {
					revoked = k.Revoked.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\n", k.ID, k.TenantID, k.Role, k.Prefix, k.Created.Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		},
	}
	dataFlag(list, &dir)
	create := &cobra.Command{
		Use: "create TENANT", Short: "Create an API key for a tenant (by id or name) and print it once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := store.Role(role)
			if r != store.RoleClient && r != store.RolePublisher && r != store.RoleAdmin {
				return fmt.Errorf("--role must be client, publisher or admin")
			}
			st, err := openStore(cmd, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := st.Tenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			k, key, err := auth.NewAPIKey(t.ID, r, time.Now().UTC())
			if err != nil {
				return err
			}
			if err := st.CreateAPIKey(cmd.Context(), k); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s key %s for tenant %s (shown once): %s\n", r, k.ID, t.Name, key)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "client", "client, publisher or admin")
	dataFlag(create, &dir)
	revoke := &cobra.Command{
		Use: "revoke KEY_ID", Short: "Revoke an API key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeAPIKey(cmd.Context(), args[0], time.Now().UTC()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s revoked\n", args[0])
			return nil
		},
	}
	dataFlag(revoke, &dir)
	cmd.AddCommand(list, create, revoke)
	return cmd
}
