// Command edge serves viewers HTTP-FLV streams that it pulls, once per
// stream, from an ordered list of origins (ingests, or other edges), failing
// over when one dies.
//
//	edge --http-listen ADDR --origin URL [--origin URL ...] [--config FILE]
//	edge sign [--config FILE] [--secure-token-secret S] [--expires 24h] [--ip ADDR] PATH
//
// --help lists every flag; config/default.yaml documents every setting.
package main

import (
	"os"

	"github.com/flvedge/flvedge/internal/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sign" {
		app.SignMain(os.Args[2:])
	}
	app.Main(app.Edge)
}
