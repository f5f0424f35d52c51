#!/usr/bin/env node
/** The `quiver` executable. */
// Every time the CLI prints is UTC, so every time it reads without a zone is UTC too — also the
// date('…') literals of filters, which core parses with the JavaScript Date (local time).
// Set before anything parses a date; only this process, never a program that embeds main().
process.env.TZ = "UTC";
const { main } = await import("./cli.js");

// A closed pipe (`quiver head | head -1`) is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit even if a store left a handle open; unref'd, so a clean exit is not delayed.
setTimeout(() => process.exit(code), 500).unref();
