/** Small shared parsers for CLI flags. */

/** Parses sizes like 2G, 512M, 4096, 1.5GiB into bytes. */
export function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new RangeError(`expected a size like 2G, 512M or 4096, received ${JSON.stringify(s)}`);
  const mult: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

/** Parses "1,2,4" into [1, 2, 4]. */
export function parseList(s: string): number[] {
  const v = s.split(',').map((x) => Number(x.trim()));
  if (v.some((x) => !Number.isInteger(x) || x < 1)) throw new RangeError(`expected a list of positive integers like 1,2, received ${JSON.stringify(s)}`);
  return v;
}
