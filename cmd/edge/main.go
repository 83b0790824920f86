// Command edge serves viewers HTTP-FLV streams that it pulls, once per
// stream, from an ordered list of origins (ingests, or other edges), failing
// over when one dies.
//
//	edge --http-listen ADDR --origin URL [--origin URL ...] [--config FILE]
//	edge sign [--config FILE] [--secure-token-secret S] [--expires 24h] [--ip ADDR] PATH
//
// --help lists every flag and subcommand; config/default.yaml documents
// every setting.
package main

import "github.com/flvedge/flvedge/internal/app"

// main serves, or runs the subcommand its first argument names.
func main() { app.Main(app.Edge, app.SignCommand) }
