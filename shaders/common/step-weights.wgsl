// W_hh as the staged, cooperative and tiled products read it: whhT's element (d, k, j)
// (layouts in common/step-forward.wgsl), from float32 words or, with HALF, from half-precision
// pairs (RecurrentOptions.weightPrecision 'f16'): the gated cells' four gates in a vec2u, the
// Elman cell's units two to a word along j, ceil(H / 2) words per (d, k).
// WCACHE (the cooperative form, where a direction's words fit): the workgroup's direction's
// words are copied into workgroup memory once, before the first step, and read from there.

// WhhWord: an element of whhT; HALF_PAIRS: the Elman cell's units two to a word.
#if GATED
#if HALF
alias WhhWord = vec2u;
#else
alias WhhWord = vec4f;
#endif
const HALF_PAIRS = false;
#else
#if HALF
alias WhhWord = u32;
const HALF_PAIRS = true;
#else
alias WhhWord = f32;
const HALF_PAIRS = false;
#endif
#endif

// Words of whhT per input unit k: H, or ceil(H / 2) for the Elman cell's half pairs.
fn whhRowWords() -> u32 {
  if (HALF_PAIRS) { return (p.hidden + 1u) / 2u; }
  return p.hidden;
}

#if WCACHE
// The words of one direction: H rows of whhRowWords() (CACHE_WORDS, at least that many).
override CACHE_WORDS: u32 = 1u;
var<workgroup> wCache: array<WhhWord, CACHE_WORDS>;

// Copies direction d's words into wCache, invocation x of the WG taking every WG-th; the
// caller puts a barrier before they are read.
fn cacheWeights(d: u32, x: u32) {
  let n = p.hidden * whhRowWords();
  for (var e = x; e < n; e += WG) { wCache[e] = whhT[d * n + e]; }
}

// Word i of direction d's H x whhRowWords() block (d is the workgroup's own).
fn whhWord(d: u32, i: u32) -> WhhWord {
  return wCache[i];
}
#else
fn cacheWeights(d: u32, x: u32) {}

fn whhWord(d: u32, i: u32) -> WhhWord {
  return whhT[d * p.hidden * whhRowWords() + i];
}
#endif

#if GATED
fn gateWeights(d: u32, k: u32, j: u32) -> vec4f {
  let w = whhWord(d, k * p.hidden + j);
#if HALF
  return vec4f(unpack2x16float(w.x), unpack2x16float(w.y));
#else
  return w;
#endif
}
#else
fn elmanWeight(d: u32, k: u32, j: u32) -> f32 {
#if HALF
  let pair = unpack2x16float(whhWord(d, k * whhRowWords() + j / 2u));
  return pair[j % 2u];
#else
  return whhWord(d, k * p.hidden + j);
#endif
}
#endif
