// A Go test server process that a test can kill and start again on the
// same port, for the tests of what clients do when their server goes away
// and comes back. lib/server.mjs starts the servers shared by a whole file.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

import { build, repoRoot } from './server.mjs';

// spawnServer starts the named server with flags and resolves with the
// child process and the port of its "LISTENING host:port" line.
async function spawnServer(bin, args, startTimeout) {
  const flags = ['-watch-stdin', ...(process.env.SIO_COMPAT_VERBOSE === '1' ? ['-v'] : []), ...args];
  const child = spawn(bin, flags, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  let timer;
  try {
    const line = await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${bin}: no LISTENING line after ${startTimeout} ms`)), startTimeout);
      lines.once('line', resolve);
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`${bin} exited before listening (code ${code}, signal ${signal})`)));
    });
    const m = /^LISTENING (\S+):(\d+)$/.exec(line);
    if (!m) throw new Error(`${bin}: unexpected first line ${JSON.stringify(line)}`);
    return { child, host: m[1], port: Number(m[2]) };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

// startRestartable starts the named server on a free port. The returned
// object has the url, kill(signal) to end the process (SIGKILL: the
// connections drop; SIGTERM: the server closes them itself), restart() to
// start it again on the same port, and stop().
export async function startRestartable(name, args = [], { startTimeout = 15_000 } = {}) {
  const bin = build(name);
  let cur = await spawnServer(bin, args, startTimeout);
  const { host, port } = cur;
  const kill = async (signal = 'SIGKILL') => {
    const { child } = cur;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    host,
    port,
    url: `http://${host}:${port}`,
    kill,
    async restart() {
      await kill('SIGKILL');
      cur = await spawnServer(bin, [...args, '-port', String(port)], startTimeout);
    },
    stop: () => kill('SIGTERM'),
  };
}
