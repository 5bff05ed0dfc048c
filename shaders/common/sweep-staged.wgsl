// The staged form of the backward sweep (the form for GPUs): the later step's recurrent-side
// gate gradients are staged in workgroup memory a tile at a time, so that each load of them
// serves a workgroup of units. One dispatch a step (and one more for dh0).
// Thread mapping: workgroup (x, y, z) = (block of WG hidden units, batch row b, direction d);
// invocation x owns unit j = x_block * WG + x of row b.

// gTile[x]: the G recurrent-side gate gradients of unit m0 + x at the later time, one per
// component (zeros past H and past G).
var<workgroup> gTile: array<vec4f, WG>;

fn seqLen(b: u32) -> u32 {
  return storedLength(b);
}

// Stages the later step's recurrent-side gradients of units m0 .. m0 + WG in gTile. Called in
// uniform control flow; the caller puts a barrier after its use of the tile.
fn stageLaterGrad(b: u32, d: u32, m0: u32, x: u32) {
  let m = m0 + x;
  var v = vec4f(0.0);
  if (m < p.hidden && curStep <= seqLen(b)) {
    let tl = laterTime(d, b);
    for (var g = 0u; g < GATES; g++) { v[g] = recurrentGrad(gateIndex(tl, b, d, g, m)); }
  }
  gTile[x] = v;
  workgroupBarrier();
}

// Sum over m of dot(W_hh gates of (k = j, m), gTile): the gradient reaching h_t[b, j] through
// W_hh from the later step. Every invocation calls it (it holds barriers); those past H get 0.
fn laterGradThroughWhh(b: u32, d: u32, j: u32, x: u32) -> f32 {
  var acc = 0.0;
  // p.step, not curStep (the same here): the barriers below need a uniform condition.
  if (p.step == 0u) { return acc; }
  for (var m0 = 0u; m0 < p.hidden; m0 += WG) {
    stageLaterGrad(b, d, m0, x);
    if (j < p.hidden) {
      let n = min(WG, p.hidden - m0);
      for (var mm = 0u; mm < n; mm++) { acc += dot(whhGates(d, j, m0 + mm), gTile[mm]); }
    }
    workgroupBarrier();
  }
  return acc;
}

// Workgroup (x, y, z) = (block of WG units, row b, direction d).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  let j = wid.x * WG + lid.x;
  let rec = laterGradThroughWhh(wid.y, wid.z, j, lid.x);
  if (j >= p.hidden) { return; }
  unitStep(wid.y, wid.z, j, rec);
}
