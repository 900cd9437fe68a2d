/**
 * Hangul everywhere: Noto Sans KR (Korean subset, 400, SIL OFL 1.1, from @fontsource), bundled
 * and registered with a unicode-range, so the browser fetches it only when Korean text is on the
 * page. A machine without CJK fonts (headless Chromium, many Linux desktops) otherwise shows
 * Korean as empty boxes. The CSS font stacks name 'Noto Sans KR' after the system fonts.
 */
import koreanUrl from '@fontsource/noto-sans-kr/files/noto-sans-kr-korean-400-normal.woff2?url';

export const KOREAN_FAMILY = 'Noto Sans KR';
// Hangul syllables, jamo, compatibility jamo, jamo extended A/B, CJK symbols and punctuation
const HANGUL = 'U+AC00-D7A3, U+1100-11FF, U+3130-318F, U+A960-A97F, U+D7B0-D7FF, U+3000-303F';

export function installFonts(doc: Document = document): FontFace | null {
  if (typeof FontFace === 'undefined' || !doc.fonts) return null;
  const face = new FontFace(KOREAN_FAMILY, `url(${koreanUrl}) format('woff2')`,
    { unicodeRange: HANGUL, display: 'swap', weight: '400' });
  doc.fonts.add(face);
  return face;
}
