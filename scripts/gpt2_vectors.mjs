// gpt2_vectors.mjs: GPT-2 token-id test vectors from js-tiktoken (the reference implementation),
// for tests/test_bpe.c. Run by `make gpt2-vectors`, which installs js-tiktoken from npm.
//
//   node scripts/gpt2_vectors.mjs OUT.tsv [SHARED_DATA_DIR]
//
// Each line: name <TAB> input bytes as hex <TAB> ids separated by spaces.
// Whole files (from SHARED_DATA_DIR) are one line each: file:<path> <TAB> - <TAB> count=N fnv=HEX,
// where fnv is 32-bit FNV-1a over the ids as little-endian uint32.
// Text is encoded as ordinary text: a literal "<|endoftext|>" is not special. Input bytes that are
// not valid UTF-8 reach the encoder as the WHATWG decoder leaves them: each maximal invalid
// subpart replaced by U+FFFD.
import { getEncoding } from "js-tiktoken";
import { readFileSync, writeFileSync, existsSync } from "node:fs";

const enc = getEncoding("gpt2");
const decoder = new TextDecoder("utf-8"); // replacement, not fatal
const encodeBytes = (bytes) => enc.encode(decoder.decode(bytes), [], []);
const utf8 = (s) => new TextEncoder().encode(s);
const hex = (bytes) => Buffer.from(bytes).toString("hex");

const cases = [
  ["empty", ""],
  ["english", "The quick brown fox jumps over the lazy dog."],
  ["sentence", "Hello world, it's a fine day; isn't it? Yes -- quite so!"],
  ["contractions", "I'm you're they'll it's we've I'd don't can't 's 't 're 've 'm 'll 'd"],
  ["contractions-upper", "I'M YOU'RE IT'S DON'T 'S 'T 'RE"],
  ["apostrophes", "rock'n'roll o'clock ''quoted'' 'tis '90s"],
  ["numbers", "12345678 3.14159 1,000,000 2024-11-23 0x1F 1e-9 -42 +7"],
  ["long-number", "31415926535897932384626433832795028841971693993751"],
  ["spaces-run", "a   b    c     d"],
  ["leading-spaces", "    indented line"],
  ["trailing-spaces", "trailing   "],
  ["only-spaces", "        "],
  ["newlines", "one\ntwo\n\nthree\n\n\n\nfour"],
  ["space-newline-mix", "a \n b  \n\n  c \n"],
  ["tabs", "col1\tcol2\t\tcol3\n\tindented"],
  ["crlf", "line one\r\nline two\r\n\r\nline four\r\n"],
  ["cr-only", "a\rb\r\rc"],
  ["accents", "café naïve résumé Ångström São Paulo Zürich façade coöperate"],
  ["combining", "e\u0301 a\u0308 n\u0303 \u0301start"],
  ["greek-cyrillic", "Ελληνικά και русский язык"],
  ["cjk", "日本語のテキストと中文文本，还有한국어。"],
  ["cjk-mixed", "Tokyo 東京 2024年11月23日 test"],
  ["arabic-hebrew", "مرحبا بالعالم שלום עולם"],
  ["emoji", "🙂👍🏽 family: 👨‍👩‍👧 flags: 🇯🇵🇫🇷 ❤️"],
  ["symbols", "© ® ™ § ¶ † ‡ • … ‰ € £ ¥ ¢ ∞ ≈ ≠ ≤ ≥ ± × ÷"],
  ["typographic", "“Quoted,” she said—‘really’—and left…"],
  ["unicode-spaces", "a\u00a0b\u2009c\u3000d\u202fe\u205ff\u1680g\u2028h\u2029i"],
  ["bom", "\ufeffstart\ufeff middle"],
  ["nel", "a\u0085b \u0085 c"],
  ["zero-width", "a\u200bb\u200cc\u200dd\u2060e"],
  ["other-digits", "١٢٣ ४५६ Ⅻ ½ ² ³ ①"],
  ["endoftext-literal", "before<|endoftext|>after <|endoftext|>"],
  ["code", "def f(x):\n    return x**2 + 1  # square\n\nif __name__ == '__main__':\n\tprint(f(3))\n"],
  ["json", "{\"key\": [1, 2.5, \"three\"], \"nested\": {\"a\": null}}"],
  ["url", "https://example.com/path?query=1&other=two#frag"],
  ["punctuation-run", "!!!??? ... --- ___ *** ### $$$ %%% ^^^ &&& ((( )))"],
  ["repeat-a", "a".repeat(300)],
  ["repeat-space", " ".repeat(300) + "x"],
  ["repeat-exclaim", "!".repeat(200)],
  ["repeat-newline", "\n".repeat(100) + "end"],
  ["mixed-scripts-word", "helloПриветこんにちは123abc"],
  ["control-chars", "a\u0001b\u0007c\u001bd\u007fe"],
  ["nul", "a\u0000b"],
  ["max-codepoints", "\u{10FFFF}\u{E000}\u{FFFD}\u{1F600}"],
  ["shakespeare", "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"],
];

// invalid UTF-8 as raw bytes
const invalid = [
  ["invalid-ff", [0x61, 0xff, 0x62]],
  ["invalid-fe-ff", [0xfe, 0xff]],
  ["invalid-lone-continuation", [0x80, 0x81, 0x41]],
  ["invalid-truncated-3byte", [0x41, 0xe6, 0x97, 0x42]],
  ["invalid-truncated-at-end", [0x41, 0xf0, 0x9f, 0x98]],
  ["invalid-overlong", [0xc0, 0xaf, 0xe0, 0x80, 0xaf]],
  ["invalid-surrogate", [0xed, 0xa0, 0x80, 0x20, 0xed, 0xbf, 0xbf]],
  ["invalid-above-max", [0xf4, 0x90, 0x80, 0x80, 0xf5, 0x80]],
  ["invalid-mixed", [0x48, 0x69, 0x20, 0xc3, 0x28, 0x20, 0xe2, 0x82, 0x28, 0x20, 0xf0, 0x28, 0x8c, 0xbc]],
];

// random strings from a seeded generator over a pool of fragments
function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pool = ["the", "The", " ", "  ", "\n", "\n\n", "\t", "\r\n", "'s", "'ll", "'", "\"", ",", ".", "!", "?", "-", "--",
  "0", "42", "1999", "3.5", "é", "ü", "ß", "ñ", "Ω", "日本", "中", "한", "🙂", "👍🏽", "\u00a0", "\u3000", "\u0301", "ing",
  "tion", "Hello", "world", "x", "Q", "zz", "(", ")", "[", "]", "{", "}", "#", "@", "$", "%", "&", "*", "_", "/", "\\",
  "<|endoftext|>", "\u200d", "\ufeff", "ä", "ça", "  \n", " \t ", "\u2028", "a", "I", "e", "0x", "...", "—", "“", "”"];
const rand = mulberry32(20261123);
for (let i = 0; i < 300; i++) {
  const n = 1 + Math.floor(rand() * 40);
  let s = "";
  for (let k = 0; k < n; k++) s += pool[Math.floor(rand() * pool.length)];
  cases.push([`random-${i}`, s]);
}

const lines = [];
for (const [name, text] of cases) {
  const bytes = utf8(text);
  lines.push(`${name}\t${hex(bytes)}\t${enc.encode(text, [], []).join(" ")}`);
}
for (const [name, arr] of invalid) {
  const bytes = Uint8Array.from(arr);
  lines.push(`${name}\t${hex(bytes)}\t${encodeBytes(bytes).join(" ")}`);
}

// whole files: count and hash
const shared = process.argv[3] || "../shared/data";
const files = ["tinyshakespeare.txt", "books/pg4300_ulysses.txt", "books/pg244_a_study_in_scarlet.txt",
  "books/pg2600_war_and_peace.txt", "books/pg1497_the_republic.txt"];
for (const f of files) {
  const path = `${shared}/${f}`;
  if (!existsSync(path)) { console.error(`skipping ${path}: not found`); continue; }
  const ids = encodeBytes(readFileSync(path));
  let h = 0x811c9dc5;
  for (const id of ids) {
    for (let b = 0; b < 4; b++) { h ^= (id >>> (8 * b)) & 0xff; h = Math.imul(h, 0x01000193) >>> 0; }
  }
  lines.push(`file:${f}\t-\tcount=${ids.length} fnv=${h.toString(16).padStart(8, "0")}`);
}

writeFileSync(process.argv[2], lines.join("\n") + "\n");
console.log(`wrote ${lines.length} vectors to ${process.argv[2]}`);
