package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/catalog"
)

func newEvents() *cobra.Command {
	var variant string
	cmd := &cobra.Command{
		Use:   "events [NAME [--variant V]]",
		Short: "List the event catalogue, or show one event type with its sample (or one variant's)",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
				return err
			}
			if variant != "" && len(args) == 0 {
				return fmt.Errorf("--variant needs the event NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := catalog.New()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				return printEventType(cmd.OutOrStdout(), cat, args[0], variant)
			}
			return printCatalogue(cmd.OutOrStdout(), cat)
		},
	}
	cmd.Flags().StringVar(&variant, "variant", "", "show the sample of this variant of NAME (PURCHASE, PASS, AC, ...)")
	addEnvToUsage(cmd)
	return cmd
}

// printEventType shows one event type and its sample, or, with a variant,
// that variant and its sample.
func printEventType(out io.Writer, cat *catalog.Catalog, name, variant string) error {
	t, ok := cat.Lookup(name)
	if !ok {
		return fmt.Errorf("unknown event %q (herald events lists them)", name)
	}
	sample, err := cat.Sample(name, variant)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n\n%s\n", t.Name, t.Description)
	for _, v := range t.Variants {
		if variant == "" || v.Name == variant {
			fmt.Fprintf(out, "\nvariant %s: %s\n", v.Name, v.Description)
		}
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, sample, "", "  "); err != nil {
		return err
	}
	label := "sample"
	if variant != "" {
		label = "sample of variant " + variant
	}
	fmt.Fprintf(out, "\n%s:\n%s\n", label, pretty.String())
	return nil
}

// printCatalogue lists every event type with its variants.
func printCatalogue(out io.Writer, cat *catalog.Catalog) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tVARIANTS\tDESCRIPTION")
	for _, t := range cat.Types() {
		names := make([]string, len(t.Variants))
		for i, v := range t.Variants {
			names[i] = v.Name
		}
		variants := "-"
		switch {
		case len(names) > 3:
			variants = strings.Join(names[:3], ",") + fmt.Sprintf(" +%d", len(names)-3)
		case len(names) > 0:
			variants = strings.Join(names, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, variants, firstSentence(t.Description))
	}
	return tw.Flush()
}

// firstSentence shortens a description for a table.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	if len(s) > 70 {
		s = s[:67] + "..."
	}
	return s
}

// client is how the CLI talks to a running Herald.
type client struct {
	url, key, tenant string
	http             *http.Client
}

// clientFlags adds --url, --api-key, --tenant and --data (where admin.key is
// looked for when no key is given).
func clientFlags(cmd *cobra.Command, c *client, data *string) {
	f := cmd.Flags()
	f.StringVar(&c.url, "url", "http://127.0.0.1:8080", "address of the running Herald")
	f.StringVar(&c.key, "api-key", "", "API key (default: the admin key in <data>/admin.key)")
	f.StringVar(&c.tenant, "tenant", "", "tenant to act on, with an admin key (Herald-Tenant)")
	f.StringVar(data, "data", "./herald-data", "data directory holding admin.key")
}

func (c *client) resolveKey(data string) error {
	if c.key != "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		return fmt.Errorf("no API key: pass --api-key or set HERALD_API_KEY (%v)", err)
	}
	c.key = strings.TrimSpace(string(b))
	return nil
}

// post sends body to path and returns the status and answer.
func (c *client) post(path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(c.url, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	if c.tenant != "" {
		req.Header.Set("Herald-Tenant", c.tenant)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}

func newTrigger() *cobra.Command {
	var (
		c       = client{http: &http.Client{Timeout: 30 * time.Second}}
		data    string
		variant string
		all     bool
	)
	cmd := &cobra.Command{
		Use:   "trigger [NAME]",
		Short: "Publish a catalogue sample to a running Herald",
		Long: `Publish the canonical sample of an event (or of one of its variants) to a running Herald and print
the answer. With --all, publish one sample of every event and variant.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 || !all && len(args) != 1 {
				return fmt.Errorf("give one event NAME, or --all")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.resolveKey(data); err != nil {
				return err
			}
			cat, err := catalog.New()
			if err != nil {
				return err
			}
			type job struct{ name, variant string }
			var jobs []job
			if all {
				for _, t := range cat.Types() {
					if len(t.Variants) == 0 {
						jobs = append(jobs, job{t.Name, ""})
					}
					for _, v := range t.Variants {
						jobs = append(jobs, job{t.Name, v.Name})
					}
				}
			} else {
				jobs = []job{{args[0], variant}}
			}
			failed := 0
			for _, j := range jobs {
				sample, err := cat.Sample(j.name, j.variant)
				if err != nil {
					return err
				}
				status, answer, err := c.post("/events", sample)
				if err != nil {
					return err
				}
				label := j.name
				if j.variant != "" {
					label += " " + j.variant
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-45s %d %s\n", label, status, bytes.TrimSpace(answer))
				if status != http.StatusAccepted {
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d publishes were not accepted", failed, len(jobs))
			}
			return nil
		},
	}
	clientFlags(cmd, &c, &data)
	cmd.Flags().StringVar(&variant, "variant", "", "publish the sample of this variant (PURCHASE, PASS, AC, ...)")
	cmd.Flags().BoolVar(&all, "all", false, "publish one sample of every event and variant")
	addEnvToUsage(cmd)
	return cmd
}
