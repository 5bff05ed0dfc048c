// The entry point of the staged and direct forward forms for a cell whose step is one phase
// (every cell but the GRU's two-phase form, gru-cell-forward-two-phase.wgsl, which has its
// own): each cell defines cellStep(x, j, b0, d), the step of unit j of rows
// b0 .. b0 + ROWS - 1 and direction d at step curStep, x being the invocation's index in the
// workgroup. PERSISTENT: every step in one dispatch (see common/step-staged.wgsl).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
#if PERSISTENT
  for (var s = 0u; s < p.seqLen; s++) {
    curStep = s;
    for (var j0 = 0u; j0 < p.hidden; j0 += WG) { cellStep(lid.x, j0 + lid.x, wid.y * ROWS, wid.z); }
    phaseBarrier();
  }
#else
  curStep = p.step;
  cellStep(lid.x, wid.x * WG + lid.x, wid.y * ROWS, wid.z);
#endif
}
