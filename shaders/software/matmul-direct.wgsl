// The direct form of the batched product (matmul.wgsl; software adapters, decision D8): no
// staging. Each thread reads its rows of A' and columns of B' straight from memory, so the
// kernel has no barrier: on a CPU adapter (SwiftShader) workgroup memory is ordinary memory and
// each barrier switches between the workgroup's invocations, which costs more than the reuse it
// buys. There every load at an address computed at run time is emulated lane by lane, and those
// loads, not the multiply-adds, set the pace: so each thread owns an 8 x 8 block of C (16 loads
// for 64 multiply-adds a k, against 8 for 16 with 4 x 4 blocks).
//
// Thread (x, y) owns the block at rows m = 8 (WG_Y wid.y + y) .. m + 7 and columns
// n = 8 (WG_X wid.x + x) .. n + 7 of matrix wid.z, and walks all of K. Rows and columns past the
// matrix read the last one (clamped; storeC drops their sums), so the loop has no branch. The
// operands' storage order is a pair of strides: A'(m, k) at aBase + m aM + k aK, B'(n, k) at
// bBase + n bN + k bK. The 64 sums are separate f32 variables and the 16 loads a k add one
// scalar offset to 16 precomputed ones, written out (WGSL has no unrolling directive; four
// mat4x4f sums fed by vec4u index vectors ran slower on SwiftShader, D8). A block wholly past
// the matrix has nothing to store; SwiftShader runs a group of four neighbouring x as one, so
// the loader orients thin products (matmulOrientation) to have their long side along x.
@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m = (wid.y * WG_Y + lid.y) * 8u;
  let n = (wid.x * WG_X + lid.x) * 8u;
  let z = wid.z;
  if (m >= p.M || n >= p.N) { return; }
  let aM = select(p.lda, 1u, p.transA != 0u);
  let aK = select(1u, p.lda, p.transA != 0u);
  let bN = select(p.ldb, 1u, p.transB != 0u);
  let bK = select(1u, p.ldb, p.transB != 0u);
  let aBase = p.offsetA + z * p.strideA;
  let bBase = p.offsetB + z * p.strideB;
  let ar0 = aBase + min(m + 0u, p.M - 1u) * aM;
  let ar1 = aBase + min(m + 1u, p.M - 1u) * aM;
  let ar2 = aBase + min(m + 2u, p.M - 1u) * aM;
  let ar3 = aBase + min(m + 3u, p.M - 1u) * aM;
  let ar4 = aBase + min(m + 4u, p.M - 1u) * aM;
  let ar5 = aBase + min(m + 5u, p.M - 1u) * aM;
  let ar6 = aBase + min(m + 6u, p.M - 1u) * aM;
  let ar7 = aBase + min(m + 7u, p.M - 1u) * aM;
  let bc0 = bBase + min(n + 0u, p.N - 1u) * bN;
  let bc1 = bBase + min(n + 1u, p.N - 1u) * bN;
  let bc2 = bBase + min(n + 2u, p.N - 1u) * bN;
  let bc3 = bBase + min(n + 3u, p.N - 1u) * bN;
  let bc4 = bBase + min(n + 4u, p.N - 1u) * bN;
  let bc5 = bBase + min(n + 5u, p.N - 1u) * bN;
  let bc6 = bBase + min(n + 6u, p.N - 1u) * bN;
  let bc7 = bBase + min(n + 7u, p.N - 1u) * bN;
  let cBase = p.offsetC + z * p.strideC;
  let biasLo = biasOf(n);
  let biasHi = biasOf(n + 4u);
  // One row (a read-out or a bias gradient, run transposed; dW of a one-output read-out): its
  // own loop, one load of A' for 8 multiply-adds, rather than 8 loads of the same element and
  // 64 multiply-adds of which 8 are kept.
  if (p.M == 1u) {
    var r0 = 0.0; var r1 = 0.0; var r2 = 0.0; var r3 = 0.0; var r4 = 0.0; var r5 = 0.0; var r6 = 0.0; var r7 = 0.0;
    for (var k = 0u; k < p.K; k++) {
      let a0 = a[aBase + k * aK];
      let kb = k * bK;
      r0 += a0 * b[bc0 + kb]; r1 += a0 * b[bc1 + kb]; r2 += a0 * b[bc2 + kb]; r3 += a0 * b[bc3 + kb]; r4 += a0 * b[bc4 + kb]; r5 += a0 * b[bc5 + kb]; r6 += a0 * b[bc6 + kb]; r7 += a0 * b[bc7 + kb];
    }
    storeC(cBase, m, n, vec4f(r0, r1, r2, r3) + biasLo, p.accumulate != 0u);
    storeC(cBase, m, n + 4u, vec4f(r4, r5, r6, r7) + biasHi, p.accumulate != 0u);
    return;
  }
  var c00 = 0.0; var c01 = 0.0; var c02 = 0.0; var c03 = 0.0; var c04 = 0.0; var c05 = 0.0; var c06 = 0.0; var c07 = 0.0;
  var c10 = 0.0; var c11 = 0.0; var c12 = 0.0; var c13 = 0.0; var c14 = 0.0; var c15 = 0.0; var c16 = 0.0; var c17 = 0.0;
  var c20 = 0.0; var c21 = 0.0; var c22 = 0.0; var c23 = 0.0; var c24 = 0.0; var c25 = 0.0; var c26 = 0.0; var c27 = 0.0;
  var c30 = 0.0; var c31 = 0.0; var c32 = 0.0; var c33 = 0.0; var c34 = 0.0; var c35 = 0.0; var c36 = 0.0; var c37 = 0.0;
  var c40 = 0.0; var c41 = 0.0; var c42 = 0.0; var c43 = 0.0; var c44 = 0.0; var c45 = 0.0; var c46 = 0.0; var c47 = 0.0;
  var c50 = 0.0; var c51 = 0.0; var c52 = 0.0; var c53 = 0.0; var c54 = 0.0; var c55 = 0.0; var c56 = 0.0; var c57 = 0.0;
  var c60 = 0.0; var c61 = 0.0; var c62 = 0.0; var c63 = 0.0; var c64 = 0.0; var c65 = 0.0; var c66 = 0.0; var c67 = 0.0;
  var c70 = 0.0; var c71 = 0.0; var c72 = 0.0; var c73 = 0.0; var c74 = 0.0; var c75 = 0.0; var c76 = 0.0; var c77 = 0.0;
  for (var k = 0u; k < p.K; k++) {
    let ka = k * aK;
    let kb = k * bK;
    let a0 = a[ar0 + ka];
    let a1 = a[ar1 + ka];
    let a2 = a[ar2 + ka];
    let a3 = a[ar3 + ka];
    let a4 = a[ar4 + ka];
    let a5 = a[ar5 + ka];
    let a6 = a[ar6 + ka];
    let a7 = a[ar7 + ka];
    let b0 = b[bc0 + kb];
    let b1 = b[bc1 + kb];
    let b2 = b[bc2 + kb];
    let b3 = b[bc3 + kb];
    let b4 = b[bc4 + kb];
    let b5 = b[bc5 + kb];
    let b6 = b[bc6 + kb];
    let b7 = b[bc7 + kb];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3; c04 += a0 * b4; c05 += a0 * b5; c06 += a0 * b6; c07 += a0 * b7;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3; c14 += a1 * b4; c15 += a1 * b5; c16 += a1 * b6; c17 += a1 * b7;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3; c24 += a2 * b4; c25 += a2 * b5; c26 += a2 * b6; c27 += a2 * b7;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3; c34 += a3 * b4; c35 += a3 * b5; c36 += a3 * b6; c37 += a3 * b7;
    c40 += a4 * b0; c41 += a4 * b1; c42 += a4 * b2; c43 += a4 * b3; c44 += a4 * b4; c45 += a4 * b5; c46 += a4 * b6; c47 += a4 * b7;
    c50 += a5 * b0; c51 += a5 * b1; c52 += a5 * b2; c53 += a5 * b3; c54 += a5 * b4; c55 += a5 * b5; c56 += a5 * b6; c57 += a5 * b7;
    c60 += a6 * b0; c61 += a6 * b1; c62 += a6 * b2; c63 += a6 * b3; c64 += a6 * b4; c65 += a6 * b5; c66 += a6 * b6; c67 += a6 * b7;
    c70 += a7 * b0; c71 += a7 * b1; c72 += a7 * b2; c73 += a7 * b3; c74 += a7 * b4; c75 += a7 * b5; c76 += a7 * b6; c77 += a7 * b7;
  }
  storeC(cBase, m + 0u, n, vec4f(c00, c01, c02, c03) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 0u, n + 4u, vec4f(c04, c05, c06, c07) + biasHi, p.accumulate != 0u);
  storeC(cBase, m + 1u, n, vec4f(c10, c11, c12, c13) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 1u, n + 4u, vec4f(c14, c15, c16, c17) + biasHi, p.accumulate != 0u);
  storeC(cBase, m + 2u, n, vec4f(c20, c21, c22, c23) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 2u, n + 4u, vec4f(c24, c25, c26, c27) + biasHi, p.accumulate != 0u);
  storeC(cBase, m + 3u, n, vec4f(c30, c31, c32, c33) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 3u, n + 4u, vec4f(c34, c35, c36, c37) + biasHi, p.accumulate != 0u);
  storeC(cBase, m + 4u, n, vec4f(c40, c41, c42, c43) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 4u, n + 4u, vec4f(c44, c45, c46, c47) + biasHi, p.accumulate != 0u);
  storeC(cBase, m + 5u, n, vec4f(c50, c51, c52, c53) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 5u, n + 4u, vec4f(c54, c55, c56, c57) + biasHi, p.accumulate != 0u);
  storeC(cBase, m + 6u, n, vec4f(c60, c61, c62, c63) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 6u, n + 4u, vec4f(c64, c65, c66, c67) + biasHi, p.accumulate != 0u);
  storeC(cBase, m + 7u, n, vec4f(c70, c71, c72, c73) + biasLo, p.accumulate != 0u);
  storeC(cBase, m + 7u, n + 4u, vec4f(c74, c75, c76, c77) + biasHi, p.accumulate != 0u);
}
