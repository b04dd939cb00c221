// Bundles the dashboard page (src/dashboard/web/app.ts with Cytoscape.js) into
// dist/src/dashboard/static/app.js with esbuild: no CDN, nothing fetched at run time.
// The bundle is a build output, never committed. Type-check the page with
// `npx tsc -p src/dashboard/web` (the main tsconfig excludes it: it needs the DOM library).
import { build } from "esbuild";

await build({
  entryPoints: ["src/dashboard/web/app.ts"],
  outfile: "dist/src/dashboard/static/app.js",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
