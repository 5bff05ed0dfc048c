// The direct form of the forward step (software adapters; chosen by placement/rules.ts): the
// recurrent product reads h_{t-1} straight from h0 or hseq instead of staging it in workgroup
// memory, so a step has no barrier. On a CPU adapter (SwiftShader) workgroup memory is
// ordinary memory and every barrier switches between the workgroup's invocations, which costs
// more than the loads it saves (docs/performance.md).
//
// Thread mapping: workgroup (x, y, z) = (block of WG invocations, block of ROWS batch rows,
// direction d); invocation j of the block computes four outputs of rows b0 .. b0 + ROWS - 1:
// the gated cells the four gates of unit j, the Elman cell units 4j .. 4j + 3
// (software/step-direct-elman.wgsl). ROWS is 4 with BATCH_TILE, else 1. One dispatch a step
// (common/step-main.wgsl).
// recurrentProduct walks the input units four at a time, reading h_{t-1}[b, k .. k + 3] of
// each row as a vec4f; the H mod 4 last ones one at a time (prevHAt). h0 and hseq being
// different buffers, it has one loop per buffer under a uniform branch: a buffer choice
// inside the loop costs as much as the whole gain on SwiftShader.
// GATED: the gated cells' weights (whh4, whh1) and gatePreactivations. GATES3 (the GRU): the
// product runs over the three gates of a unit, not whhT's padding gate (a quarter fewer loads
// and multiply-adds); the fourth component is added back as 0.

#if BATCH_TILE
const ROWS: u32 = 4u;
#else
const ROWS: u32 = 1u;
#endif

// Index of h_{t-1}[b, d, 0] in h0 on the first step, in hseq after it; 0 (a valid row whose
// product is not used) for a row past the batch or not running.
fn prevHBase(b: u32, d: u32) -> u32 {
  if (b >= p.batch || !running(b)) { return 0u; }
  if (curStep == 0u) { return stateIndex(b, d, 0u); }
  let t = timeOf(d, b);
  var tp = t - 1u;
  if (d == 1u) { tp = t + 1u; }
  return hseqIndex(tp, b, d, 0u);
}

// The row bases of rows b0 .. b0 + 3 (b0 alone without BATCH_TILE).
fn prevHBases(b0: u32, d: u32) -> vec4u {
#if BATCH_TILE
  return vec4u(prevHBase(b0, d), prevHBase(b0 + 1u, d), prevHBase(b0 + 2u, d), prevHBase(b0 + 3u, d));
#else
  return vec4u(prevHBase(b0, d), 0u, 0u, 0u);
#endif
}

// Element i of the buffer that holds h_{t-1} (prevHBase's).
fn prevHAt(i: u32) -> f32 {
  if (curStep == 0u) { return h0[i]; }
  return hseq[i];
}

// h_{t-1}[k .. k + 3] of the rows at `base`, column r for row r: from hseq (firstH4: h0).
fn prevH4(base: u32, k: u32) -> vec4f {
  return vec4f(hseq[base + k], hseq[base + k + 1u], hseq[base + k + 2u], hseq[base + k + 3u]);
}
fn firstH4(base: u32, k: u32) -> vec4f {
  return vec4f(h0[base + k], h0[base + k + 1u], h0[base + k + 2u], h0[base + k + 3u]);
}
fn prevHRows(base: vec4u, k: u32) -> mat4x4f {
  return mat4x4f(prevH4(base.x, k), prevH4(base.y, k), prevH4(base.z, k), prevH4(base.w, k));
}
fn firstHRows(base: vec4u, k: u32) -> mat4x4f {
  return mat4x4f(firstH4(base.x, k), firstH4(base.y, k), firstH4(base.z, k), firstH4(base.w, k));
}
// h_{t-1}[b, k] of the rows at `base` as a vec4f over rows.
fn prevHColumn(base: vec4u, k: u32) -> vec4f {
  return vec4f(prevHAt(base.x + k), prevHAt(base.y + k), prevHAt(base.z + k), prevHAt(base.w + k));
}

#if GATES3
alias DirectAcc = mat4x3f;
fn widenAcc(a: mat4x3f) -> mat4x4f { return mat4x4f(vec4f(a[0], 0.0), vec4f(a[1], 0.0), vec4f(a[2], 0.0), vec4f(a[3], 0.0)); }
#else
alias DirectAcc = mat4x4f;
fn widenAcc(a: mat4x4f) -> mat4x4f { return a; }
#endif

// h_{t-1} W_hh^T for what invocation j computes, in rows b0 .. b0 + ROWS - 1: column r holds
// row b0 + r (only column 0 without BATCH_TILE), its components four outputs of the
// invocation (the gated cells: the gates of unit j; the Elman cell: units 4j .. 4j + 3).
// Each cell defines whh4(d, k, j), whose column kk holds those outputs' weights for input
// unit k + kk, and whh1(d, k, j), the weights for input unit k alone; whh4 * (column r:
// h_{t-1}[b0 + r, k .. k + 3]) adds four input units to row r.
fn recurrentProduct(b0: u32, d: u32, j: u32) -> mat4x4f {
  let H = p.hidden;
  let base = prevHBases(b0, d);
  let H4 = H & ~3u;
  var acc = DirectAcc();
  if (curStep == 0u) {
    for (var k = 0u; k < H4; k += 4u) {
#if BATCH_TILE
      acc += whh4(d, k, j) * firstHRows(base, k);
#else
      acc[0] += whh4(d, k, j) * firstH4(base.x, k);
#endif
    }
  } else {
    for (var k = 0u; k < H4; k += 4u) {
#if BATCH_TILE
      acc += whh4(d, k, j) * prevHRows(base, k);
#else
      acc[0] += whh4(d, k, j) * prevH4(base.x, k);
#endif
    }
  }
  for (var k = H4; k < H; k++) {
    let w = whh1(d, k, j);
    let hv = prevHColumn(base, k);
    acc += DirectAcc(w * hv.x, w * hv.y, w * hv.z, w * hv.w);
  }
  return widenAcc(acc);
}

#if GATED
// The gated cells: the gates of unit j for input units k .. k + 3 (columns), and for input unit k.
#if GATES3
// r, z, n alone, each a component load of whhT's vec4f.
fn whh3At(i: u32) -> vec3f {
  return vec3f(whhT[i].x, whhT[i].y, whhT[i].z);
}
fn whh4(d: u32, k: u32, j: u32) -> mat4x3f {
  let H = p.hidden;
  let wi = whhIndex(d, k, j);
  return mat4x3f(whh3At(wi), whh3At(wi + H), whh3At(wi + 2u * H), whh3At(wi + 3u * H));
}
fn whh1(d: u32, k: u32, j: u32) -> vec3f {
  return whh3At(whhIndex(d, k, j));
}
#else
fn whh4(d: u32, k: u32, j: u32) -> mat4x4f {
  let H = p.hidden;
  let wi = whhIndex(d, k, j);
  return mat4x4f(whhT[wi], whhT[wi + H], whhT[wi + 2u * H], whhT[wi + 3u * H]);
}
fn whh1(d: u32, k: u32, j: u32) -> vec4f {
  return whhT[whhIndex(d, k, j)];
}
#endif

fn gatePreactivations(b0: u32, d: u32, j: u32, x: u32) -> mat4x4f {
  if (j >= p.hidden) { return mat4x4f(); }
  return recurrentProduct(b0, d, j);
}
#endif
