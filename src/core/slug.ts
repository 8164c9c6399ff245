/**
 * Worktree slugs: 1–2 lowercase ASCII words that say what the work is about.
 * Non-Latin text is transliterated (Hangul, Cyrillic, Greek, kana) or, failing that,
 * given a readable fallback with a short hash so two requests never share a bare name.
 */

const STOP_WORDS = new Set(
  (
    'a an the to for of and or in on with by from at is are be as into onto via it its this that these those ' +
    'please pls can could would should will shall let lets me my we our us you your i do does make need needs ' +
    'want some any all new work task just also then so up out about'
  ).split(' '),
);

const MAX_WORD = 20;

const CYRILLIC: Record<string, string> = {
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'g',
  д: 'd',
  е: 'e',
  ё: 'e',
  ж: 'zh',
  з: 'z',
  и: 'i',
  й: 'y',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'kh',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'shch',
  ъ: '',
  ы: 'y',
  ь: '',
  э: 'e',
  ю: 'yu',
  я: 'ya',
  і: 'i',
  ї: 'yi',
  є: 'ye',
  ґ: 'g',
};
const GREEK: Record<string, string> = {
  α: 'a',
  β: 'v',
  γ: 'g',
  δ: 'd',
  ε: 'e',
  ζ: 'z',
  η: 'i',
  θ: 'th',
  ι: 'i',
  κ: 'k',
  λ: 'l',
  μ: 'm',
  ν: 'n',
  ξ: 'x',
  ο: 'o',
  π: 'p',
  ρ: 'r',
  σ: 's',
  ς: 's',
  τ: 't',
  υ: 'y',
  φ: 'f',
  χ: 'ch',
  ψ: 'ps',
  ω: 'o',
};
// Revised Romanization of Korean, by jamo index.
const HANGUL_INITIAL = 'g kk n d tt r m b pp s ss _ j jj ch k t p h'.split(' ').map((s) => (s === '_' ? '' : s));
const HANGUL_VOWEL = 'a ae ya yae eo e yeo ye o wa wae oe yo u wo we wi yu eu ui i'.split(' ');
const HANGUL_FINAL = '_ k k k n n n t l k m l l l p l m p p t t ng t t k t p t'.split(' ').map((s) => (s === '_' ? '' : s));
const KANA =
  'a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu me mo ya yu yo ra ri ru re ro wa wo n';
const HIRAGANA = 'あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん';
const KATAKANA = 'アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン';
const KANA_MAP = new Map<string, string>();
KANA.split(' ').forEach((romaji, i) => {
  KANA_MAP.set(HIRAGANA[i]!, romaji);
  KANA_MAP.set(KATAKANA[i]!, romaji);
});

function transliterateChar(ch: string): string {
  const lower = ch.toLowerCase();
  if (CYRILLIC[lower] !== undefined) return CYRILLIC[lower];
  if (GREEK[lower] !== undefined) return GREEK[lower];
  const code = ch.codePointAt(0)!;
  if (code >= 0xac00 && code <= 0xd7a3) {
    const index = code - 0xac00;
    const initial = HANGUL_INITIAL[Math.floor(index / 588)]!;
    const vowel = HANGUL_VOWEL[Math.floor((index % 588) / 28)]!;
    const final = HANGUL_FINAL[index % 28]!;
    return initial + vowel + final;
  }
  return KANA_MAP.get(ch) ?? ch;
}

/** Lowercase ASCII words of the text, after stripping accents and transliterating other scripts. */
export function slugWords(text: string): string[] {
  // Transliterate on composed text first: NFKD would split Hangul syllables into jamo.
  const transliterated = Array.from(text.normalize('NFC'), transliterateChar).join('');
  const latin = transliterated.normalize('NFKD').replace(/\p{M}/gu, '').replace(/ß/g, 'ss').replace(/æ/gi, 'ae').replace(/ø/gi, 'o');
  return (latin.toLowerCase().match(/[a-z0-9]+/g) ?? []).map((word) => word.slice(0, MAX_WORD));
}

/** A short, stable hex hash (FNV-1a) for readable fallbacks. */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (const ch of text) {
    hash ^= ch.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0').slice(0, 6);
}

/**
 * The base slug for a worktree: the first two meaningful words of `name`, else of `request`.
 * Text with no usable word gets `work-<hash>` (hash of the text), and no text at all gets `work`.
 */
export function deriveSlug(name: string | undefined, request: string | undefined): string {
  for (const text of [name, request]) {
    if (!text || !text.trim()) continue;
    const words = slugWords(text);
    const meaningful = words.filter((word) => !STOP_WORDS.has(word));
    const chosen = (meaningful.length > 0 ? meaningful : words).slice(0, 2);
    if (chosen.length > 0) return chosen.join('-');
    return `work-${shortHash(text.trim())}`;
  }
  return 'work';
}

/** `base`, then `base-2`, `base-3`, … for attempt 0, 1, 2, … */
export const slugCandidate = (base: string, attempt: number): string => (attempt === 0 ? base : `${base}-${attempt + 1}`);

/** tmux session names may not contain `.` or `:`; keep to a safe, readable set. */
export function viewerSessionName(repoName: string, slug: string): string {
  const repo = slugWords(repoName).join('-') || 'repo';
  return `${repo}-${slug}`.slice(0, 80);
}
