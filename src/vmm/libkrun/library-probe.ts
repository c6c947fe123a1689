// What a libkrun library offers, looked at by the worker's --probe mode (so that neither aegisd nor the CLI
// loads it): the symbols Aegis needs that it lacks, whether it is the test double, and which libkrunfw (the
// guest kernel libkrun loads at start) is there, with its ABI version (krunfw_get_version).
import path from 'node:path';
import koffi from 'koffi';
import { hasTestDoubleMarker, missingSymbols } from './libkrun-api.js';

/** The libkrunfw soname libkrun 1.17+ loads (ABI 5). */
const KRUNFW_NAME = process.platform === 'darwin' ? 'libkrunfw.5.dylib' : 'libkrunfw.so.5';

export interface LibraryReport {
  library: string;
  /** Required functions the library does not export (empty: usable). */
  missing: string[];
  fixture: boolean;
  /** libkrunfw as libkrun would find it; absent for the test double, which boots no kernel. */
  krunfw?: { file: string; abi: number } | { error: string };
  /** The library could not be loaded at all. */
  error?: string;
}

export function probeLibrary(file: string): LibraryReport {
  try {
    const missing = missingSymbols(file);
    const fixture = hasTestDoubleMarker(file);
    return { library: file, missing, fixture, ...(fixture ? {} : { krunfw: probeKrunfw(file) }) };
  } catch (err) {
    return { library: file, missing: [], fixture: false, error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

function probeKrunfw(libkrun: string): LibraryReport['krunfw'] {
  // libkrun dlopens the bare soname; a libkrunfw installed beside libkrun (a prefix outside the loader's path) is tried too.
  for (const candidate of [KRUNFW_NAME, path.join(path.dirname(libkrun), KRUNFW_NAME)]) {
    try {
      const version = koffi.load(candidate).func('int krunfw_get_version()') as () => number;
      return { file: candidate, abi: version() };
    } catch {
      /* try the next */
    }
  }
  return { error: `${KRUNFW_NAME} not found (install libkrunfw: libkrun boots its guest kernel from it)` };
}
