// Command ingest takes live streams from publishers over RTMP and serves them
// to viewers and edges as HTTP-FLV.
//
//	ingest [--config FILE] [--rtmp-listen ADDR] [--http-listen ADDR] [--demo]
//
// --help lists every flag; config/default.yaml documents every setting.
package main

import "github.com/flvedge/flvedge/internal/app"

func main() { app.Main(app.Ingest) }
