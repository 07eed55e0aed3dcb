// Condenses `go test -json` output read from stdin into what a person needs:
// one line per package (as plain `go test` prints it), preceded by the
// output of the package's failing tests (or, for a package that failed
// outside any test, all it printed), build errors, and a closing line
//
//   go test: N passed, N failed, N skipped
//
// counting tests and subtests. A package that fails outside any test (build
// error, TestMain, timeout, race report after the tests) counts as one
// failure. Exits 1 when anything failed.

import { createInterface } from 'node:readline';

const counts = { pass: 0, fail: 0, skip: 0 };
const buffers = new Map(); // "pkg\x00test" or "pkg" -> output lines not yet judged
const pending = new Map(); // pkg -> lines to print when the package ends
const summaries = new Map(); // pkg -> its "ok"/"FAIL"/"?" line
const failedTests = new Set(); // packages with a failed test
const failedPackages = [];
const out = (s) => process.stdout.write(s);

const key = (ev) => (ev.Test ? `${ev.Package}\x00${ev.Test}` : ev.Package);
const append = (map, k, v) => {
  if (!map.has(k)) map.set(k, []);
  map.get(k).push(v);
};
// keep moves the output buffered under k to what pkg prints at its end.
const keep = (pkg, k) => {
  for (const l of buffers.get(k) ?? []) if (!/^=== (RUN|PAUSE|CONT|NAME)/.test(l)) append(pending, pkg, l);
  buffers.delete(k);
};

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  let ev;
  try {
    ev = JSON.parse(line);
  } catch {
    out(`${line}\n`); // not from test2json (a go command error, say)
    continue;
  }
  if (ev.Action === 'build-output') {
    out(ev.Output);
    continue;
  }
  if (!ev.Package) continue;
  const pkg = ev.Package;
  const k = key(ev);
  switch (ev.Action) {
    case 'output':
      if (!ev.Test && /^(ok|FAIL|\?)\s+\S+\s/.test(ev.Output)) summaries.set(pkg, ev.Output);
      else append(buffers, k, ev.Output);
      break;
    case 'pass':
    case 'skip':
    case 'fail':
      if (ev.Test) {
        counts[ev.Action]++;
        if (ev.Action === 'fail') {
          failedTests.add(pkg);
          keep(pkg, k);
        } else {
          buffers.delete(k);
        }
        break;
      }
      // The package is done.
      if (ev.Action === 'fail') {
        failedPackages.push(pkg);
        if (!failedTests.has(pkg)) counts.fail++;
        // What tests that never finished (a panic, a timeout) and the
        // package itself printed.
        for (const b of [...buffers.keys()]) if (b.startsWith(`${pkg}\x00`)) keep(pkg, b);
        keep(pkg, pkg);
      }
      for (const b of [...buffers.keys()]) if (b === pkg || b.startsWith(`${pkg}\x00`)) buffers.delete(b);
      for (const l of pending.get(pkg) ?? []) out(l);
      pending.delete(pkg);
      out(summaries.get(pkg) ?? `${ev.Action === 'fail' ? 'FAIL' : 'ok  '}\t${pkg}\n`);
      summaries.delete(pkg);
      break;
  }
}

if (failedPackages.length > 0) out(`\nfailed packages:\n${failedPackages.map((p) => `  ${p}\n`).join('')}`);
out(`go test: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped\n`);
process.exitCode = counts.fail > 0 || failedPackages.length > 0 ? 1 : 0;
