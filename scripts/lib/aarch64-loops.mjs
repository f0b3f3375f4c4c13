// Shared by the arm64 inner-loop counters (scripts/arm64-inner-loops.mjs, scripts/arm64-loop-insns.mjs):
// disassembles an aarch64 object with objdump and finds its loops (a backward branch and the address
// range it closes). Counting rules stay in the callers.
import { execFileSync } from 'node:child_process';

const BRANCH = /^(b|b\.\w+|cbn?z|tbn?z)$/;

/** Map of demangled function name -> its instructions { addr, op, args }. */
export function disassemble(file, objdump = 'aarch64-linux-gnu-objdump') {
  const text = execFileSync(objdump, ['-d', '--no-show-raw-insn', '-C', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const funcs = new Map();
  let cur = null;
  for (const line of text.split('\n')) {
    const h = /^([0-9a-f]+) <(.+)>:$/.exec(line);
    if (h) {
      cur = [];
      funcs.set(h[2], cur);
      continue;
    }
    const m = /^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(line);
    if (m && cur) cur.push({ addr: parseInt(m[1], 16), op: m[2], args: m[3] });
  }
  return funcs;
}

/** Every loop of one function: { from, to, body } with body = the instructions in [from, to]. */
export function loopsOf(insns) {
  const out = [];
  for (const i of insns) {
    if (!BRANCH.test(i.op)) continue;
    const t = /(?:^|,\s*)([0-9a-f]+) </.exec(i.args);
    if (!t) continue;
    const from = parseInt(t[1], 16);
    if (from <= i.addr) out.push({ from, to: i.addr, body: insns.filter((x) => x.addr >= from && x.addr <= i.addr) });
  }
  return out;
}

/** The loops that contain no other loop. */
export function innermost(loops) {
  return loops.filter((l) => !loops.some((o) => o !== l && o.from >= l.from && o.to <= l.to && (o.from !== l.from || o.to !== l.to)));
}
