// Builds and starts the Go test servers of compat-tests/ (one process per
// test file), and stops them when the file is done.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { renameSync, rmSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
const binDir = join(repoRoot, 'compat-tests', '.bin');

// build compiles ./compat-tests/<name> into compat-tests/.bin/<name>
// (with '-' for '/': cluster/gonode is .bin/cluster-gonode) and returns
// the binary's path. The Makefile builds the servers beforehand and sets
// SIO_COMPAT_PREBUILT=1; `npm test` alone builds here (go's build cache
// makes it cheap). The binary is renamed into place so that test files
// building at the same time never run a half-written file.
export function build(name) {
  const bin = join(binDir, name.replaceAll('/', '-'));
  if (process.env.SIO_COMPAT_PREBUILT === '1') return bin;
  mkdirSync(binDir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('go', ['build', '-o', tmp, `./compat-tests/${name}`], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 180_000,
  });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ./compat-tests/${name} failed: ${r.error ?? `exit ${r.status}`}`);
  }
  renameSync(tmp, bin);
  return bin;
}

// start runs the named test server with the given flags and resolves once
// it has printed its "LISTENING host:port" line. SIO_COMPAT_VERBOSE=1 makes
// the server log sessions and debug messages to stderr. The returned object has
// the base URL and a stop() method; the server also exits on its own when
// this process ends (it watches its stdin).
export async function start(name, args = [], { startTimeout = 15_000 } = {}) {
  const bin = build(name);
  const flags = ['-watch-stdin', ...(process.env.SIO_COMPAT_VERBOSE === '1' ? ['-v'] : []), ...args];
  const child = spawn(bin, flags, {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const first = new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no LISTENING line after ${startTimeout} ms`)), startTimeout);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolveLine(line);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal})`));
    });
  });
  const line = await first;
  const m = /^LISTENING (\S+):(\d+)$/.exec(line);
  if (!m) {
    child.kill('SIGKILL');
    throw new Error(`${name}: unexpected first line ${JSON.stringify(line)}`);
  }
  const host = m[1];
  const port = Number(m[2]);
  return {
    host,
    port,
    url: `http://${host}:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
