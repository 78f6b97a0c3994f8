package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// openStore opens the database of an administration command, which must
// exist: a mistyped --data would otherwise get a fresh, empty database (and
// encryption key), and a tenant or key made there would serve nobody. Only
// serve and migrate create one (openNewStore).
func openStore(cmd *cobra.Command, w where) (service.Backend, error) {
	if w.url == "" {
		if err := checkDatabase(w.dir); err != nil {
			return nil, err
		}
	}
	return openNewStore(cmd, w)
}

// openNewStore opens the database, creating it (and its schema) if need be.
func openNewStore(cmd *cobra.Command, w where) (service.Backend, error) {
	ctx, cancel := openContext(cmd)
	defer cancel()
	return service.OpenStore(ctx, w.dir, w.url, nil)
}

// checkDatabase refuses a data directory that holds no SQLite database.
func checkDatabase(dir string) error {
	path := filepath.Join(dir, service.DatabaseFile)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no Herald database in %s (%s not found): pass the --data of your herald serve (or --database-url), "+
			"or create one with \"herald migrate --data %s\"", dir, service.DatabaseFile, dir)
	case err != nil:
		return fmt.Errorf("herald database: %w", err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a Herald database (not a regular file)", path)
	}
	return nil
}

func newMigrate() *cobra.Command {
	var dir where
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date (serve also does this at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openNewStore(cmd, dir)
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
			if err := store.CheckTenantName(args[0]); err != nil {
				return fmt.Errorf("tenant name %q %v", args[0], err)
			}
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
	var dir where
	list := &cobra.Command{
		Use: "list [TENANT]", Short: "List API keys (of one tenant, by id or name; admin keys are service-wide)", Args: cobra.MaximumNArgs(1),
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
			return printKeys(cmd, keys, tenantID != "")
		},
	}
	dataFlag(list, &dir)
	cmd.AddCommand(list, newKeysCreate(), newKeysRevoke())
	return cmd
}

// printKeys writes keys as a table. An admin key belongs to no tenant (it
// acts on any, named per request): it shows as service-wide, and not at
// all in the list of one tenant.
func printKeys(cmd *cobra.Command, keys []store.APIKey, oneTenant bool) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tROLE\tPREFIX\tCREATED\tREVOKED")
	for _, k := range keys {
		tenant := k.TenantID
		if k.Role == store.RoleAdmin {
			if oneTenant {
				continue
			}
			tenant = "service-wide"
		}
		revoked := "-"
		if k.Revoked != nil {
			revoked = k.Revoked.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\t%s\n", k.ID, tenant, k.Role, k.Prefix, k.Created.Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func newKeysCreate() *cobra.Command {
	var (
		dir   where
		role  string
		admin bool
	)
	create := &cobra.Command{
		Use:   "create TENANT | create --admin",
		Short: "Create a client or publisher key for a tenant (by id or name), or a service-wide admin key, and print it once",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkKeyArgs(cmd, args, role, admin); err != nil {
				return err
			}
			st, err := openStore(cmd, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			if admin {
				return createAdminKey(cmd, st)
			}
			t, err := st.Tenant(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			r := store.Role(role)
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
	create.Flags().StringVar(&role, "role", "client", "client or publisher")
	create.Flags().BoolVar(&admin, "admin", false, "create a service-wide admin key (no TENANT): it acts on every tenant")
	dataFlag(create, &dir)
	return create
}

// checkKeyArgs refuses a key request that would be ambiguous: an admin key
// acts on every tenant (the API refuses to make one for a tenant), so it
// is asked for as such, never as a tenant's key with --role admin.
func checkKeyArgs(cmd *cobra.Command, args []string, role string, admin bool) error {
	const hint = "admin keys are service-wide: create one with \"herald keys create --admin\" (no tenant)"
	switch {
	case admin && len(args) == 1:
		return fmt.Errorf("--admin takes no TENANT: %s", hint)
	case admin && cmd.Flags().Changed("role"):
		return fmt.Errorf("--admin and --role cannot be combined: %s", hint)
	case admin:
		return nil
	case store.Role(role) == store.RoleAdmin:
		return fmt.Errorf("--role admin is not a tenant's role: %s", hint)
	case store.Role(role) != store.RoleClient && store.Role(role) != store.RolePublisher:
		return fmt.Errorf("--role must be client or publisher (%s)", hint)
	case len(args) == 0:
		return fmt.Errorf("TENANT is required (or --admin for a service-wide admin key)")
	}
	return nil
}

// createAdminKey makes a service-wide admin key. Its row needs a tenant
// (api_keys.tenant_id): it is filed under the default tenant, which
// "herald serve" creates, as the admin key serve generates is; the role,
// not that tenant, decides what the key may do.
func createAdminKey(cmd *cobra.Command, st service.Backend) error {
	ctx := cmd.Context()
	t, err := st.Tenant(ctx, service.DefaultTenant)
	if errors.Is(err, store.ErrNotFound) {
		now := time.Now().UTC()
		t = store.Tenant{ID: uuid.Must(uuid.NewV7()).String(), Name: service.DefaultTenant, Created: now}
		if err = st.CreateTenant(ctx, t); errors.Is(err, store.ErrConflict) {
			t, err = st.Tenant(ctx, service.DefaultTenant) // created meanwhile by a starting server
		}
	}
	if err != nil {
		return fmt.Errorf("default tenant: %w", err)
	}
	k, key, err := auth.NewAPIKey(t.ID, store.RoleAdmin, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "admin key %s, service-wide (shown once): %s\n", k.ID, key)
	return nil
}

func newKeysRevoke() *cobra.Command {
	var dir where
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
	return revoke
}
