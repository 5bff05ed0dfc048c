// The embedding's gradient: dE [V, I], row v the sum of the rows of dx [N, I] at the positions
// that read id v, zero for rows no position reads (and the padding row). `rows` holds, as u32
// (src/spec/embedding.ts embeddingRows): slot [V] (row v's place u, or 0xffffffff), then at
// `startsAt` starts [U + 1], then at `orderAt` the positions order [N], grouped by place. One
// invocation per element of dE, summing its positions in increasing order; every element is
// written, so dE needs no clearing. Workgroups fold into y.

struct Params {
  numEmbeddings: u32,
  features: u32,
  startsAt: u32,
  orderAt: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> dx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dE: array<f32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.numEmbeddings * p.features) { return; }
  let v = i / p.features;
  let k = i - v * p.features;
  let u = rows[v];
  var acc = 0.0;
  if (u != 0xffffffffu) {
    for (var j = rows[p.startsAt + u]; j < rows[p.startsAt + u + 1u]; j++) {
      acc += dx[rows[p.orderAt + j] * p.features + k];
    }
  }
  dE[i] = acc;
}
