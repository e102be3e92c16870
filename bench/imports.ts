// The dataset's import with `keystore import`: the Debian keyrings in one run, then the synthetic keys in up to
// IMPORT_PARTS runs of consecutive chunk files, so that the rate of the first and of the last part (into a store
// already holding all the others) shows whether the import slows down as the store grows; and the import times
// against SKS's builds of the same keys.
import type { SksBuildTimes } from './sks.js';
import type { ImportResult } from './server.js';

export const IMPORT_PARTS = 10;
// Each part is a `keystore import` of its own, whose start and end (worker threads warming up, the pipeline
// draining, the sweep of certifications aside) cost about half a second here: parts of 1,000 keys measured
// 741 keys/s where one run of the same 10,000 took 1,388. Parts of at least this many keys keep that small.
export const MIN_PART_KEYS = 10_000;

/** How many parts an import of this many keys is made in: at most IMPORT_PARTS, each of at least MIN_PART_KEYS. */
export function importPartCount(keys: number): number {
  return Math.max(1, Math.min(IMPORT_PARTS, Math.floor(keys / MIN_PART_KEYS)));
}

/** `files` in at most `parts` runs of consecutive files, as even as whole files allow (none empty). */
export function importParts(files: string[], parts = IMPORT_PARTS): string[][] {
  const count = Math.min(parts, files.length);
  const out: string[][] = [];
  for (let p = 0; p < count; p++) out.push(files.slice(Math.round((p * files.length) / count), Math.round(((p + 1) * files.length) / count)));
  return out;
}

/**
 * The parts of one import as if they were one `keystore import`: counts summed, `seconds` (the import's own
 * time, from the first key read to the last stored) summed, and `wallSeconds` the summed import time plus the
 * first part's start-up (process, migrations, worker threads): one command's start, not one per part.
 */
export function combineImports(parts: ImportResult[]): ImportResult {
  if (parts.length === 0) throw new Error('no import to combine');
  const sum = (pick: (r: ImportResult) => number) => parts.reduce((n, r) => n + pick(r), 0);
  const reasons: Record<string, number> = {};
  for (const r of parts) for (const [reason, n] of Object.entries(r.reasons)) reasons[reason] = (reasons[reason] ?? 0) + n;
  const seconds = sum((r) => r.seconds);
  const keys = sum((r) => r.keys);
  return {
    files: sum((r) => r.files),
    keys,
    inserted: sum((r) => r.inserted),
    updated: sum((r) => r.updated),
    unchanged: sum((r) => r.unchanged),
    rejected: sum((r) => r.rejected),
    failed: sum((r) => r.failed),
    reasons,
    seconds,
    keysPerSecond: seconds > 0 ? keys / seconds : 0,
    maxRssBytes: Math.max(...parts.map((r) => r.maxRssBytes)),
    wallSeconds: seconds + Math.max(0, parts[0]!.wallSeconds - parts[0]!.seconds),
  };
}

/** Rate of the last part ÷ rate of the first (1 = flat); null with fewer than two parts. */
export function lastToFirstRate(parts: ImportResult[] | undefined): number | null {
  if (!parts || parts.length < 2 || parts[0]!.keysPerSecond <= 0) return null;
  return parts[parts.length - 1]!.keysPerSecond / parts[0]!.keysPerSecond;
}

/**
 * SKS built from keydumps of the dataset: the whole of it (the SKS measured), and when the dataset has both kinds
 * of keys, the Debian keyrings alone and the synthetic keys alone, each in a folder of its own (built, timed,
 * removed), so that each import has an SKS time of its own measured directly.
 */
export interface SksBuilds {
  debian?: SksBuildTimes;
  synthetic?: SksBuildTimes;
  all: SksBuildTimes;
}

/** keystore's import time (wall, one start-up) ÷ SKS's build + cleandb + pbuild time of the same keys. */
export function sksImportRatios(
  imports: { debian?: ImportResult; synthetic?: ImportResult },
  sks: SksBuilds,
): { debian: number | null; synthetic: number | null } {
  const both = imports.debian !== undefined && imports.synthetic !== undefined;
  const ratio = (r: ImportResult | undefined, s: SksBuildTimes | undefined) => (r && s && s.total > 0 ? r.wallSeconds / s.total : null);
  return { debian: ratio(imports.debian, both ? sks.debian : sks.all), synthetic: ratio(imports.synthetic, both ? sks.synthetic : sks.all) };
}
