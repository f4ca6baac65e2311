// The fuzz tests' seeded randomness. `npm test` runs every fuzz test with FIXED_SEED, so a
// failure there is a regression, never a new random find; `npm run test:fuzz` (FUZZ_SEED=random)
// draws a fresh seed. FUZZ_SEED=<n> replays a run (the seed is printed at the start and named in
// every failure); FUZZ_RUNS sets the number of cases of each fuzz test.

/** sfc32: a small, fast PRNG with a 128-bit state, good enough to pick test inputs. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** The generator of case `i` of a run: cases are independent, and runs of nearby seeds differ. */
  static forCase(seed: number, i: number): Random {
    let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return new Random((h ^ (h >>> 16)) >>> 0);
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }

  /** A length skewed towards small values (most inputs are short; some are long). */
  size(max: number): number {
    return Math.floor(max ** this.next()) - 1 + (this.bool(0.1) ? 1 : 0);
  }

  /** Printable and not-so-printable text: ASCII, controls, astral characters, lone surrogates. */
  text(maxLength: number): string {
    const n = this.size(maxLength);
    let s = '';
    for (let i = 0; i < n; i++) {
      const kind = this.int(0, 9);
      if (kind < 6) s += String.fromCharCode(this.int(0x20, 0x7e));
      else if (kind === 6) s += String.fromCharCode(this.int(0, 0x1f));
      else if (kind === 7) s += String.fromCodePoint(this.int(0x80, 0x10ffff));
      else if (kind === 8) s += String.fromCharCode(this.int(0xd800, 0xdfff));
      else s += this.pick(['"', '\\', '{', '}', '[', ']', ':', ',', '\u0000', '\ufeff', '%', '/', '..']);
    }
    return s;
  }

  /** A random JSON-ish value, nested up to `depth`. */
  json(depth = 3): unknown {
    const kind = this.int(0, depth > 0 ? 9 : 6);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.bool();
      case 2:
        return this.int(-1e6, 1e6);
      case 3:
        return this.pick([0, -0, 1e308, -1e-308, 2 ** 53 + 1, 0.1, -1]);
      case 4:
      case 5:
        return this.text(30);
      case 6:
        return this.pick(['', 'graceful-downscale', 'do-not-accept-new-tasks', '2099-01-01T00:00:00Z', 'P1D', '1h', 'true', '__proto__', 'constructor']);
      case 7:
        return Array.from({ length: this.int(0, 4) }, () => this.json(depth - 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(0, 5); i > 0; i--) o[this.bool(0.7) ? this.text(12) : this.pick(['operation', 'count', 'mode', 'deadline', 'notAfter', '__proto__', 'drainId'])] = this.json(depth - 1);
        return o;
      }
    }
  }
}

/** The seed of `npm test`'s fuzz runs. */
export const FIXED_SEED = 20261207;

/** The run's seed: FUZZ_SEED (an integer, or `random` for a fresh one), else FIXED_SEED; printed so that any run can be replayed. */
export function fuzzSeed(test: string): number {
  const given = process.env.FUZZ_SEED ?? '';
  let seed = FIXED_SEED;
  if (given === 'random') seed = Math.floor(Math.random() * 2 ** 32) >>> 0;
  else if (given !== '') {
    if (!Number.isInteger(Number(given))) throw new Error(`FUZZ_SEED must be an integer or "random", got ${JSON.stringify(given)}`);
    seed = Number(given) >>> 0;
  }
  console.log(`[fuzz] ${test}: seed ${seed} (replay with FUZZ_SEED=${seed})`);
  return seed;
}

/** The number of cases: FUZZ_RUNS, or this test's default (bounded for CI). */
export function fuzzRuns(defaultRuns: number): number {
  const given = process.env.FUZZ_RUNS;
  if (given === undefined || given === '') return defaultRuns;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got ${JSON.stringify(given)}`);
  return n;
}
