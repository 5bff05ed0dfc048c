// The hooks the cells call, in the forward forms that keep the state in storage (the staged
// and direct forms; the resident form, software/step-resident.wgsl, has its own): the length
// stored beside h0, h_t to hN on a row's last step, b_hh from storage, h_{t-1} from h0 or hseq.

fn seqLen(b: u32) -> u32 {
  return storedLength(b);
}

// h_t of unit j in row b0 + r of direction d (a running row), where it goes besides hseq: hN
// on the row's last step.
fn keepH(b0: u32, r: u32, d: u32, j: u32, h: f32) {
  if (isLast(b0 + r)) { hN[stateIndex(b0 + r, d, j)] = h; }
}

// What cellStep adds of b_hh for unit j.
fn hhBias(d: u32, j: u32, gates: u32) -> vec4f {
  return hhBiasAt(d, j, gates);
}

// h_{t-1}[b0 + r, j] of direction d for the cell's own use (the GRU's z h_{t-1}).
fn ownPrevH(b0: u32, r: u32, d: u32, j: u32) -> f32 {
  return prevH(b0 + r, d, j);
}
