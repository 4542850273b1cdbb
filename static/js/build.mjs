/**
 * Build the pages' bundles: `node static/js/build.mjs` (or `npm run build`).
 *
 * Each page entry in static/js/src/ becomes one minified ES module (with its
 * imported CSS as a stylesheet next to it) in static/js/dist/, named by a hash
 * of its content so browsers may cache it for ever. manifest.json maps the
 * logical names ("console.js", "console.css", ...) to those files, and a .gz
 * beside each file lets the server send it pre-compressed.
 *
 * Rebuilding while a server runs is safe: the new files and the manifest are
 * written first, and the previous build's files are kept (only older ones are
 * removed), so a server that read the old manifest, and pages it already
 * served, still find their files.
 */
import { build } from "esbuild";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";

const JS_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(JS_DIR, "..", "..");
const SOURCE_DIR = path.join(JS_DIR, "src");
const OUTPUT_DIR = path.join(JS_DIR, "dist");
const MANIFEST = "manifest.json";

/** The page entries; everything else under src/ is imported by them. */
const PAGES = ["app.js", "console.js", "consoles.js", "editor.js", "files.js", "share.js"];

/** Browsers the IDE supports: anything with ES modules and ResizeObserver. */
const TARGETS = ["chrome90", "firefox90", "safari15", "edge90"];

async function bundle() {
  return build({
    absWorkingDir: ROOT,
    entryPoints: PAGES.map((page) => path.join(SOURCE_DIR, page)),
    outdir: OUTPUT_DIR,
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: TARGETS,
    charset: "utf8",
    legalComments: "eof",
    // sockjs-client is written for browserify, which provided `global`.
    define: { global: "globalThis", "process.env.NODE_ENV": '"production"' },
    metafile: true,
    write: false,
    logLevel: "warning",
  });
}

/** Logical name → hashed file name (relative to dist/), from esbuild's metafile. */
function manifestFrom(metafile) {
  const manifest = {};
  for (const [output, info] of Object.entries(metafile.outputs)) {
    if (!info.entryPoint) continue;
    const page = path.basename(info.entryPoint);
    const stem = page.replace(/\.js$/, "");
    manifest[page] = path.basename(output);
    if (info.cssBundle) manifest[`${stem}.css`] = path.basename(info.cssBundle);
  }
  const missing = PAGES.filter((page) => !(page in manifest));
  if (missing.length) throw new Error(`esbuild produced no output for ${missing.join(", ")}.`);
  return Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
}

/** Write a file and its gzip twin; returns the gzipped size. */
async function writeWithGzip(file, contents) {
  const gzipped = gzipSync(contents, { level: constants.Z_BEST_COMPRESSION });
  await writeFile(file, contents);
  await writeFile(`${file}.gz`, gzipped);
  return gzipped.length;
}

/** The file names listed by the manifest already in dist/, if any. */
async function previousBuild() {
  try {
    const manifest = JSON.parse(await readFile(path.join(OUTPUT_DIR, MANIFEST), "utf8"));
    return Object.values(manifest).flatMap((name) => [name, `${name}.gz`]);
  } catch (error) {
    if (error.code === "ENOENT") return [];
    throw new Error(`${path.join(OUTPUT_DIR, MANIFEST)} is unreadable (${error.message}); delete it and build again.`, {
      cause: error,
    });
  }
}

/** Write atomically, so a server never reads half a manifest. */
async function writeAtomically(file, contents) {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

async function main() {
  const started = process.hrtime.bigint();
  const result = await bundle();
  const manifest = manifestFrom(result.metafile);

  await mkdir(OUTPUT_DIR, { recursive: true });
  const kept = new Set([MANIFEST, ...(await previousBuild())]);
  let bytes = 0;
  let gzipBytes = 0;
  for (const output of result.outputFiles) {
    gzipBytes += await writeWithGzip(output.path, output.contents);
    bytes += output.contents.length;
    kept.add(path.basename(output.path)).add(`${path.basename(output.path)}.gz`);
  }
  await writeAtomically(path.join(OUTPUT_DIR, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);

  for (const name of await readdir(OUTPUT_DIR)) {
    if (!kept.has(name)) await rm(path.join(OUTPUT_DIR, name), { recursive: true, force: true });
  }

  const milliseconds = Number(process.hrtime.bigint() - started) / 1e6;
  const kib = (count) => `${(count / 1024).toFixed(0)} KiB`;
  console.log(
    `Built ${Object.keys(manifest).length} assets in ${path.relative(ROOT, OUTPUT_DIR)}/ ` +
      `(${kib(bytes)}, ${kib(gzipBytes)} gzipped) in ${milliseconds.toFixed(0)} ms`,
  );
}

main().catch((error) => {
  // esbuild has already printed its own errors with file and line.
  if (!error.errors) console.error(error.stack || String(error));
  console.error("The front-end build failed.");
  process.exit(1);
});
