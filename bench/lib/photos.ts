import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { TEST_DATA_DIR } from '../../test/helpers/paths.js';

/**
 * The real-photo corpus of the adaptive-enhancement benchmark (issue 12): photographic
 * wallpapers from Debian packages, fetched at bench time with `apt-get download` and
 * unpacked with `dpkg-deb -x` into DATA_DIR/bench-photos (never committed: the
 * licences below allow redistribution, but 100 MB of photos do not belong in git).
 * Each original is shrunk to a 1920 px long edge (area filter), which also removes
 * most of the source JPEG's own artefacts, and kept as PNG.
 */
export interface CorpusPhoto {
  readonly name: string;
  readonly pkg: string;
  /** Path inside the package. */
  readonly path: string;
  readonly author: string;
  readonly license: string;
}

const MATE = 'usr/share/backgrounds/mate/nature';
const LOMIRI = 'usr/share/backgrounds';

export const CORPUS: readonly CorpusPhoto[] = [
  { name: 'Aqua', pkg: 'mate-backgrounds', path: `${MATE}/Aqua.jpg`, author: 'Charles Barbin, 2008', license: 'GPL-2+' },
  { name: 'Blinds', pkg: 'mate-backgrounds', path: `${MATE}/Blinds.jpg`, author: 'Lennart Poettering, Andrea Cimitan, 2008', license: 'GPL-2+' },
  { name: 'Garden', pkg: 'mate-backgrounds', path: `${MATE}/Garden.jpg`, author: 'Charles Barbin, 2008', license: 'GPL-2+' },
  { name: 'LadyBird', pkg: 'mate-backgrounds', path: `${MATE}/LadyBird.jpg`, author: 'Charles Barbin, 2008', license: 'GPL-2+' },
  { name: 'RainDrops', pkg: 'mate-backgrounds', path: `${MATE}/RainDrops.jpg`, author: '"blackcombwhistler07", 2008', license: 'GPL-2+' },
  { name: 'Storm', pkg: 'mate-backgrounds', path: `${MATE}/Storm.jpg`, author: 'Sergey Nazarov, 2008', license: 'GPL-2+' },
  { name: 'TwoWings', pkg: 'mate-backgrounds', path: `${MATE}/TwoWings.jpg`, author: 'Charles Barbin, Hylke Bons, 2008', license: 'GPL-2+' },
  { name: 'Wood', pkg: 'mate-backgrounds', path: `${MATE}/Wood.jpg`, author: 'see the package copyright file', license: 'GPL-2+' },
  { name: 'YellowFlower', pkg: 'mate-backgrounds', path: `${MATE}/YellowFlower.jpg`, author: 'Charles Barbin, 2008', license: 'GPL-2+' },
  { name: 'Aitzgorri', pkg: 'lomiri-wallpapers-16.04', path: `${LOMIRI}/aitzgorri_by_Aitzol_Berasategi.jpg`, author: 'Aitzol Berasategi, 2018', license: 'CC-BY-4.0' },
  { name: 'Bridge', pkg: 'lomiri-wallpapers-16.04', path: `${LOMIRI}/Bridge_by_Sander_Klootwijk.jpg`, author: 'Sander Klootwijk, 2018', license: 'CC-BY-SA-4.0' },
  { name: 'Dragonfly', pkg: 'lomiri-wallpapers-16.04', path: `${LOMIRI}/Dragonfly_by_Bolly.jpg`, author: '"Bolly", 2018', license: 'CC-BY-SA-4.0' },
];

export const CORPUS_DIR = join(TEST_DATA_DIR, 'bench-photos');
export const LONG_EDGE = 1920;

/** The folder a Debian package is unpacked into (DATA_DIR/bench-photos/<pkg>), fetched on first use. */
export function unpack(pkg: string): string {
  const dir = join(CORPUS_DIR, pkg);
  if (existsSync(join(dir, 'usr'))) return dir;
  mkdirSync(dir, { recursive: true });
  execFileSync('apt-get', ['download', pkg], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const deb = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb (run apt-get update first)`);
  execFileSync('dpkg-deb', ['-x', join(dir, deb), dir]);
  return dir;
}

/** Path of the 1920 px PNG original of each corpus photo (fetched and made on first use). */
export async function corpusOriginals(names?: readonly string[]): Promise<Array<{ photo: CorpusPhoto; file: string }>> {
  const out: Array<{ photo: CorpusPhoto; file: string }> = [];
  for (const photo of CORPUS.filter((p) => !names || names.includes(p.name))) {
    const file = join(CORPUS_DIR, `${photo.name}-${LONG_EDGE}.png`);
    if (!existsSync(file)) {
      const src = join(unpack(photo.pkg), photo.path);
      await sharp(src).rotate().resize(LONG_EDGE, LONG_EDGE, { fit: 'inside', kernel: 'lanczos3' }).toColourspace('srgb').png().toFile(file);
    }
    out.push({ photo, file });
  }
  return out;
}
