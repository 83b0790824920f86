// Command edge serves viewers HTTP-FLV streams that it pulls, once per
// stream, from an ordered list of origins (ingests, or other edges), failing
// over when one dies.
//
//	edge --http-listen ADDR --origin URL [--origin URL ...] [--config FILE]
//
// --help lists every flag; config/default.yaml documents every setting.
package main

import "github.com/flvedge/flvedge/internal/app"

func main() { app.Main(app.Edge) }
