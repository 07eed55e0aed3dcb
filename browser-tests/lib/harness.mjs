// Shared pieces of the browser tests: finding Chromium, building and
// running an example, and launching the browser.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const outDir = fileURLToPath(new URL('../.out', import.meta.url));
const binDir = fileURLToPath(new URL('../.bin', import.meta.url));

export const clientDir = join(root, 'node_modules/socket.io-client/dist');

export const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const haveChromium = existsSync(executablePath);
const inCI = process.env.CI === 'true';

// skip is the skip option of the tests: a reason when Chromium is missing
// on a developer machine; false under CI=true, where requireChromium then
// fails the test.
export const skip = !haveChromium && !inCI
  ? `${executablePath} not found: install it (apt-get install -y chromium) or set CHROMIUM_PATH`
  : false;

export function requireChromium(assert) {
  assert.ok(haveChromium, `${executablePath} is missing (CI=true): install chromium (apt-get install -y chromium)`);
}

export function launchBrowser() {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// screenshot saves a screenshot of the page as browser-tests/.out/<file>.
export async function screenshot(page, file) {
  mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: join(outDir, file) });
}

// build compiles ./examples/<name> into browser-tests/.bin/<name>.
export function build(name) {
  mkdirSync(binDir, { recursive: true });
  const bin = join(binDir, name);
  execFileSync('go', ['build', '-o', bin, `./examples/${name}`], { cwd: root, stdio: 'inherit' });
  return bin;
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// run starts a built example. ready(stdout, stderr) returns the URL of
// the server once the output says it is up, or undefined; run resolves
// with it.
export async function run(bin, args, ready) {
  const proc = spawn(bin, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let logs = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start:\n${logs}`)), 20000);
    const check = () => {
      const url = ready(out, logs);
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    };
    proc.stdout.on('data', (d) => { out += d; check(); });
    proc.stderr.on('data', (d) => { logs += d; check(); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited (${code ?? signal}):\n${logs}`));
    });
  });
  return { proc, url, exited, stdout: () => out, logs: () => logs };
}
