// split.js: two hot JavaScript functions, each timed by the program itself,
// for profiling Node.js (run with --perf-basic-prof, so the JIT's code is
// named in /tmp/perf-PID.map). mixLoop is integer arithmetic, sortLoop sorts
// with a comparator; the split between them is the program's printed truth.
// Usage: node --perf-basic-prof split.js SECONDS
"use strict";

function mixLoop(rounds) {
  let h = 0;
  for (let i = 0; i < rounds; i++) {
    h = Math.imul(h ^ i, 2654435761) >>> 0;
    h ^= h >>> 13;
  }
  return h;
}

function sortLoop(count) {
  const values = [];
  for (let i = 0; i < count; i++) values.push((i * 7919) % count);
  values.sort((a, b) => a - b);
  return values[count >> 1];
}

const seconds = Number(process.argv[2] || 3);
const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
let mixed = 0n, sorted = 0n, sink = 0;
while (process.hrtime.bigint() < deadline) {
  const start = process.hrtime.bigint();
  sink += mixLoop(300000);
  const middle = process.hrtime.bigint();
  sink += sortLoop(4000);
  sorted += process.hrtime.bigint() - middle;
  mixed += middle - start;
}
console.log(JSON.stringify({ mix_seconds: Number(mixed) / 1e9, sort_seconds: Number(sorted) / 1e9, sink: sink % 10 }));
