package cli

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The configuration table of README.md is generated from the flags of
// herald serve; this test fails when they drift apart. To rewrite the
// table after changing a flag:
//
//	go test ./internal/cli -run TestREADMEConfigurationTable -update

var updateREADME = flag.Bool("update", false, "rewrite the configuration table of README.md from the flags of herald serve")

const (
	readmePath   = "../../README.md"
	readmeHeader = "| flag | environment | default | meaning |"
	readmeRule   = "| --- | --- | --- | --- |"
	readmeRerun  = "go test ./internal/cli -run TestREADMEConfigurationTable -update"
)

// configRow is one row of the table. A row without a flag is a setting
// read only from the environment: it is kept as written.
type configRow struct{ flag, env, def, meaning string }

// serveRows are the rows the flags of herald serve make, in the order they
// are declared.
func serveRows(t *testing.T) []configRow {
	t.Helper()
	flags := newServe().Flags()
	flags.SortFlags = false
	var rows []configRow
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		env := envName(f.Name)
		meaning, ok := strings.CutSuffix(f.Usage, " (env "+env+")")
		if !ok {
			t.Errorf("--%s: usage %q does not end with its environment variable", f.Name, f.Usage)
		}
		for _, cell := range []string{f.Name, f.DefValue, meaning} {
			if strings.ContainsAny(cell, "`\n") {
				t.Errorf("--%s: %q cannot go in a table cell (backquote or newline)", f.Name, cell)
			}
		}
		rows = append(rows, configRow{flag: "--" + f.Name, env: env, def: f.DefValue, meaning: meaning})
	})
	return rows
}

// format renders a row as a Markdown table line.
func (r configRow) format() string {
	code := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + s + "`"
	}
	cells := []string{code(r.flag), code(r.env), code(r.def), strings.ReplaceAll(r.meaning, "|", `\|`)}
	return "| " + strings.Join(cells, " | ") + " |"
}

// parseRow reads a table line: cells split on unescaped '|', trimmed, with
// the backquotes of a code span removed.
func parseRow(line string) (configRow, error) {
	inner, starts := strings.CutPrefix(strings.TrimSpace(line), "|")
	inner, ends := strings.CutSuffix(inner, "|")
	if !starts || !ends {
		return configRow{}, fmt.Errorf("not a table row: %q", line)
	}
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(inner); i++ {
		switch {
		case inner[i] == '\\' && i+1 < len(inner) && inner[i+1] == '|':
			cell.WriteByte('|')
			i++
		case inner[i] == '|':
			cells, cell = append(cells, cell.String()), strings.Builder{}
		default:
			cell.WriteByte(inner[i])
		}
	}
	cells = append(cells, cell.String())
	if len(cells) != 4 {
		return configRow{}, fmt.Errorf("%d cells, want 4: %q", len(cells), line)
	}
	for i, c := range cells {
		c = strings.TrimSpace(c)
		if len(c) >= 2 && strings.HasPrefix(c, "`") && strings.HasSuffix(c, "`") && i < 3 {
			c = c[1 : len(c)-1]
		}
		cells[i] = c
	}
	return configRow{flag: cells[0], env: cells[1], def: cells[2], meaning: cells[3]}, nil
}

// readmeTable finds the configuration table: the README's lines, and the
// range [start, end) of its rows (after the header and rule lines).
func readmeTable(t *testing.T) (lines []string, start, end int) {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(string(b), "\n")
	section := slices.Index(lines, "## Configuration")
	if section < 0 {
		t.Fatalf("README.md has no \"## Configuration\" section")
	}
	header := slices.Index(lines[section:], readmeHeader)
	if header < 0 || section+header+1 >= len(lines) || lines[section+header+1] != readmeRule {
		t.Fatalf("the Configuration section of README.md has no table starting\n%s\n%s", readmeHeader, readmeRule)
	}
	start = section + header + 2
	end = start
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	return lines, start, end
}

func TestREADMEConfigurationTable(t *testing.T) {
	want := serveRows(t)
	lines, start, end := readmeTable(t)
	var got, envOnly []configRow
	var envOnlyLines []string
	for _, line := range lines[start:end] {
		r, err := parseRow(line)
		if err != nil {
			t.Errorf("README.md configuration table: %v", err)
			continue
		}
		if r.flag == "" {
			envOnly, envOnlyLines = append(envOnly, r), append(envOnlyLines, line)
			continue
		}
		got = append(got, r)
	}
	var table []string
	for _, r := range want {
		table = append(table, r.format())
	}
	table = append(table, envOnlyLines...)

	if *updateREADME {
		out := slices.Concat(lines[:start], table, lines[end:])
		if err := os.WriteFile(readmePath, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the configuration table of README.md (%d flags)", len(want))
		return
	}
	if diff := diffRows(want, got); diff != "" {
		t.Errorf("README.md's configuration table does not match `herald serve --help`:\n%s\nRun `%s` to rewrite it; the table should be:\n\n%s\n%s\n%s",
			diff, readmeRerun, readmeHeader, readmeRule, strings.Join(table, "\n"))
	}
	for _, r := range envOnly {
		if !strings.HasPrefix(r.env, "HERALD_") && !strings.HasPrefix(r.env, "OTEL_") {
			t.Errorf("README.md configuration row without a flag names no environment variable: %+v", r)
		}
	}
}

// diffRows says, flag by flag, how the README's rows differ from the flags.
func diffRows(want, got []configRow) string {
	var b strings.Builder
	byFlag := map[string]configRow{}
	for _, r := range got {
		byFlag[r.flag] = r
	}
	for _, w := range want {
		g, ok := byFlag[w.flag]
		if !ok {
			fmt.Fprintf(&b, "  missing %s\n", w.flag)
			continue
		}
		delete(byFlag, w.flag)
		for _, c := range []struct{ name, want, got string }{
			{"environment", w.env, g.env}, {"default", w.def, g.def}, {"meaning", w.meaning, g.meaning},
		} {
			if c.want != c.got {
				fmt.Fprintf(&b, "  %s %s: README has %q, the flag %q\n", w.flag, c.name, c.got, c.want)
			}
		}
	}
	for _, r := range got {
		if _, extra := byFlag[r.flag]; extra {
			fmt.Fprintf(&b, "  %s is in README.md but herald serve has no such flag\n", r.flag)
		}
	}
	if b.Len() == 0 && !slices.Equal(want, got) {
		b.WriteString("  the rows are not in the order the flags are declared\n")
	}
	return b.String()
}
