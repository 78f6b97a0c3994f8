// Command herald is the Herald webhook service: see `herald --help`.
package main

import (
	"context"
	"os"

	"github.com/heraldhq/herald/internal/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
