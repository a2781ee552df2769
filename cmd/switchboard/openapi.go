package main

import (
	"context"

	"github.com/switchboardhq/switchboard/internal/server"
)

func runOpenAPI(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("openapi", help{
		usage:       "switchboard openapi > api/openapi.yaml",
		description: "Prints the REST API's OpenAPI 3.1 contract as YAML: the same document the\nserver serves at /api/v1/openapi.yaml.",
	}, e.stdout)
	if h, err := parse(fs, args); h || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("openapi: unexpected argument %q", fs.Arg(0))
	}
	doc, err := server.OpenAPIYAML()
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(doc)
	return err
}
