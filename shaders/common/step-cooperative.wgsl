// The cooperative form of the persistent forward step (GPUs, one batch row a workgroup): every
// step of the layer in one dispatch, as the staged persistent form, but each unit's recurrent
// sums split over SPLIT invocations, so that a step is a chain of H / SPLIT loads rather than H.
//
// Thread mapping: workgroup (0, b, d) owns row b of direction d. Invocation x takes unit
// u = x % UNITS (UNITS >= H, a power of two) and slice s = x / UNITS of its input units,
// k in [s K, (s + 1) K) with K = ceil(H / SPLIT); WG = SPLIT * UNITS. Neighbouring
// invocations take neighbouring units, so their whhT loads are neighbouring words.
// A step: the slices' partial sums go to `partials`; after a barrier slice 0 adds its unit's
// SPLIT partials and applies the cell (cellStep with its own unit; the other slices pass j = H
// and stop after the product), writing h_t to hseq and into hPrev; a barrier ends the step.
// h_{t-1} lives in workgroup memory (hPrev), staged from h0 once, so no storage barrier is
// needed between steps; so does W_hh where it fits (WCACHE, common/step-weights.wgsl). H <= UNITS <= WG: the wrapper builds the form only where that holds.
// GATED: the gated cells' product (gatePreactivations, a vec4f of gates per unit); the Elman
// cell's is elmanPreactivation.

override SPLIT: u32 = 4u;
override UNITS: u32 = 16u;
const ROWS: u32 = 1u;

// hPrev[k]: h_{t-1}[b, k] of the workgroup's row and direction.
var<workgroup> hPrev: array<f32, WG>;
#if GATED
var<workgroup> partials: array<vec4f, WG>;
#else
var<workgroup> partials: array<f32, WG>;
#endif

// Input units [k0, k1) of slice s.
fn sliceBounds(s: u32) -> vec2u {
  let K = (p.hidden + SPLIT - 1u) / SPLIT;
  return vec2u(min(p.hidden, s * K), min(p.hidden, (s + 1u) * K));
}

#if GATED
// h_{t-1} W_hh^T for the unit of invocation x, in column 0 for slice 0 (zeros elsewhere).
// Called in uniform control flow by every invocation (it holds a barrier).
fn gatePreactivations(b0: u32, d: u32, j: u32, x: u32) -> mat4x4f {
  let u = x % UNITS;
  let bounds = sliceBounds(x / UNITS);
  var acc = vec4f(0.0);
  if (u < p.hidden) {
    for (var k = bounds.x; k < bounds.y; k++) { acc = fma(vec4f(hPrev[k]), gateWeights(d, k, u), acc); }
  }
  partials[x] = acc;
  workgroupBarrier();
  var total = mat4x4f();
  if (x < UNITS) {
    for (var s = 0u; s < SPLIT; s++) { total[0] += partials[s * UNITS + u]; }
  }
  return total;
}
#else
// h_{t-1} W_hh^T for the unit of invocation x, in component 0 for slice 0 (zero elsewhere).
// Called in uniform control flow by every invocation (it holds a barrier).
fn elmanPreactivation(b0: u32, d: u32, j: u32, x: u32) -> vec4f {
  let u = x % UNITS;
  let bounds = sliceBounds(x / UNITS);
  var acc = 0.0;
  if (u < p.hidden) {
    for (var k = bounds.x; k < bounds.y; k++) { acc = fma(hPrev[k], elmanWeight(d, k, u), acc); }
  }
  partials[x] = acc;
  workgroupBarrier();
  var total = 0.0;
  if (x < UNITS) {
    for (var s = 0u; s < SPLIT; s++) { total += partials[s * UNITS + u]; }
  }
  return vec4f(total, 0.0, 0.0, 0.0);
}
#endif

// The hooks the cells call (as common/step-hooks.wgsl, but h_t also goes to hPrev for the next
// step, and h_{t-1} comes from there).
fn seqLen(b: u32) -> u32 {
  return storedLength(b);
}

fn keepH(b0: u32, r: u32, d: u32, j: u32, h: f32) {
  if (isLast(b0 + r)) { hN[stateIndex(b0 + r, d, j)] = h; }
  hPrev[j] = h;
}

fn hhBias(d: u32, j: u32, gates: u32) -> vec4f {
  return hhBiasAt(d, j, gates);
}

// Read by unit j's own invocation before it writes hPrev[j] (keepH comes last in cellStep).
fn ownPrevH(b0: u32, r: u32, d: u32, j: u32) -> f32 {
  return hPrev[j];
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let x = lid.x;
  let b = wid.y;
  let d = wid.z;
  curStep = 0u;
  if (x < p.hidden) { hPrev[x] = prevH(b, d, x); }
  // W_hh of this direction into workgroup memory where it fits (WCACHE; a no-op otherwise).
  cacheWeights(d, x);
  workgroupBarrier();
  // Slice 0 applies the cell to its unit; the others pass j = H (no unit) and stop after the product.
  var j = p.hidden;
  if (x < UNITS) { j = x; }
  for (var s = 0u; s < p.seqLen; s++) {
    curStep = s;
    cellStep(x, j, b, d);
    workgroupBarrier();
  }
}
