// Copies the pinned mpegts.js build and its licenses into mpegts/, the
// folder that the Go package embeds (go:embed cannot reach node_modules
// without failing the build when it is missing). Run by npm ci.
import { copyFileSync } from 'node:fs';

const from = 'node_modules/mpegts.js/';
for (const [src, dst] of [
  ['dist/mpegts.js', 'mpegts.js'],
  // The build's banner points at this file: the licenses of what it bundles.
  ['dist/mpegts.js.LICENSE.txt', 'mpegts.js.LICENSE.txt'],
  ['LICENSE', 'LICENSE.txt'],
]) {
  copyFileSync(from + src, 'mpegts/' + dst);
}
