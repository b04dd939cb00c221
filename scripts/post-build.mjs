// Copies non-TypeScript assets the compiled code loads at run time next to it in dist/.
import { cpSync, existsSync, writeFileSync } from "node:fs";

for (const dir of ["src/chaos/scenarios", "src/dashboard/static"]) {
  if (existsSync(dir)) cpSync(dir, `dist/${dir}`, { recursive: true });
}
if (existsSync("src/dashboard/web/app.ts")) await import("./build-web.mjs");
writeFileSync("dist/.build-stamp", new Date().toISOString());
