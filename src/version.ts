// The package version prewarm reports (CLI `--version`, the API's meta route, build info).
import { readFileSync } from "node:fs";

/** The package version, read once from package.json (works from src/ and from dist/). */
export const version: string = (() => {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      return JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")).version as string;
    } catch {
      // try the next location
    }
  }
  return "0.0.0";
})();
