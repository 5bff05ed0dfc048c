/**
 * The slab form of the batched product (software adapters with subgroups of at least 4 lanes;
 * see MatmulKernel and slabFits in matmul.ts): its entry point, appended to shaders/matmul.wgsl
 * with `enable subgroups`. It is generated because it is unrolled over a slab of K with every
 * private-memory index a constant (WGSL has no unrolling directive), which written out would be
 * some 400 lines of repetition; test/fixtures/wgsl/matmul-slab-main.wgsl holds it as generated
 * and a test pins it.
 */

/**
 * The generated entry points' operand layout for matrix z of the batch: A'(m, k) at
 * aBase + m·aM + k·aK, B'(n, k) at bBase + n·bN + k·bK (the storage order as a pair of strides).
 */
const OPERAND_ORIGINS: readonly string[] = [
  '  let aM = select(p.lda, 1u, p.transA != 0u);',
  '  let aK = select(1u, p.lda, p.transA != 0u);',
  '  let bN = select(p.ldb, 1u, p.transB != 0u);',
  '  let bK = select(1u, p.ldb, p.transB != 0u);',
  '  let aBase = p.offsetA + z * p.strideA;',
  '  let bBase = p.offsetB + z * p.strideB;',
];

/**
 * The slab variant's shape: lanes a workgroup, columns a lane, K a slab, and the parts of a slab
 * that run only where K reaches them (slabMatmulMain).
 */
export const SLAB_LANES = 8;
export const SLAB_COLUMNS = 16;
const SLAB_K = 64;
export const SLAB_PART = 32;

/**
 * The slab form's entry point. Lane x of workgroup (x, y, z) owns the 16 columns n = 16 (8·wid.x + x)
 * .. n + 15 of matrix wid.z. K is walked in slabs of 64: the lane gathers B'(n .. n + 15, k0 ..
 * k0 + 63) in a loop into a function variable (bStage), then copies it into private memory
 * (bSlab) at constant indices. It then takes the rows in blocks of 4, m0 = 4 wid.y,
 * 4 (wid.y + num_workgroups.y), ..: each lane of a subgroup loads A'(m0 + lane, k) for the slab's
 * k into aSlab, and for one row r after the other, subgroupBroadcast hands row r's to every lane,
 * 16 sums take the row's products, and they are added to C (the first slab adds the bias, or C's
 * value with accumulate; later slabs add to what the earlier ones left there; each element has
 * one owner, so no other lane touches it in between). The second half of a slab runs only where
 * K reaches it, so that K = 32 (a slab of its own) computes no padding.
 *
 * Why this shape, on SwiftShader (its JIT, disassembled and profiled with perf in Chromium's GPU
 * process): a load from a storage buffer at a run-time index is a branch and a scalar load per
 * lane plus the index clamp of a runtime-sized array, some 40 instructions; a read of private
 * memory at a constant index is one vector load; a subgroupBroadcast some 7 instructions; and
 * sums past the vector registers live on the stack. So the loop is written out over the slab
 * (every private index a constant), one row's 16 sums are the only ones live while its 1024
 * multiply-adds run, and each multiply-add takes 1/64 of C's read and write, 1/64 of a load of
 * A and 1/16 of a broadcast. The B' slab is gathered in a loop and its copy into bSlab written
 * out (a written-out gather ran no faster and took seconds longer to compile). Figures: D8.
 */
export function slabMatmulMain(): string {
  const KS = SLAB_K;
  const NB = SLAB_COLUMNS;
  const ks = Array.from({ length: KS }, (_, k) => k);
  const js = Array.from({ length: NB }, (_, j) => j);
  const quads = Array.from({ length: NB / 4 }, (_, q) => q);
  const rows = [0, 1, 2, 3];
  // The part of the slab that k belongs to, and the guard of a part past the first.
  const parts = Array.from({ length: KS / SLAB_PART }, (_, q) => ks.slice(q * SLAB_PART, (q + 1) * SLAB_PART));
  const guarded = (q: number, body: string[]): string[] => (q === 0 ? body : [`      if (k0 + ${q * SLAB_PART}u < p.K) {`, ...body, '      }']);
  const lines = [
    `var<private> bSlab: array<f32, ${KS * NB}>;`,
    `var<private> aSlab: array<f32, ${KS}>;`,
    `@compute @workgroup_size(${SLAB_LANES})`,
    'fn main(@builtin(local_invocation_index) x: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {',
    `  var bStage: array<f32, ${KS * NB}>;`,
    `  let n = (wid.x * ${SLAB_LANES}u + x) * ${NB}u;`,
    '  let z = wid.z;',
    ...OPERAND_ORIGINS,
    '  let cBase = p.offsetC + z * p.strideC;',
    // Columns past N read the last one (the stores below drop their sums).
    ...js.map((j) => `  let bc${j} = bBase + min(n + ${j}u, p.N - 1u) * bN;`),
    ...quads.map((q) => `  let bias${q} = biasOf(n + ${4 * q}u);`),
    `  for (var k0 = 0u; k0 < p.K; k0 += ${KS}u) {`,
    // k past K: zeros on both sides, so that a slab's tail adds nothing.
    `    for (var kk = 0u; kk < ${KS}u; kk++) {`,
    '      let k = k0 + kk;',
    '      let kb = min(k, p.K - 1u) * bK;',
    '      let live = k < p.K;',
    ...js.map((j) => `      bStage[kk * ${NB}u + ${j}u] = select(0.0, b[bc${j} + kb], live);`),
    '    }',
    ...ks.map((k) => `    ${js.map((j) => `bSlab[${k * NB + j}] = bStage[${k * NB + j}];`).join(' ')}`),
    '    let first = k0 == 0u;',
    '    let add = !first || p.accumulate != 0u;',
    ...quads.map((q) => `    let biasF${q} = select(vec4f(), bias${q}, first);`),
    '    for (var m0 = wid.y * 4u; m0 < p.M; m0 += nwg.y * 4u) {',
    // The rows' bias (a product run transposed: matmulOrientation), on the first slab only.
    ...rows.map((r) => `      let rowB${r} = select(0.0, rowBias(m0 + ${r}u), first);`),
    '      let ar = aBase + min(m0 + lane, p.M - 1u) * aM;',
    ...parts.flatMap((part, q) => guarded(q, part.map((k) => `      aSlab[${k}] = select(0.0, a[ar + min(k0 + ${k}u, p.K - 1u) * aK], k0 + ${k}u < p.K);`))),
    ...rows.flatMap((r) => [
      '      {',
      `      ${js.map((j) => `var c${j} = 0.0;`).join(' ')}`,
      ...parts.flatMap((part, q) => guarded(q, part.map((k) => `      { let s = subgroupBroadcast(aSlab[${k}], ${r}u); ${js.map((j) => `c${j} += s * bSlab[${k * NB + j}];`).join(' ')} }`))),
      // Written out rather than through storeC: its loop with early returns, 8 calls a block,
      // measured slower here.
      `      if (m0 + ${r}u < p.M) {`,
      `        let row = cBase + (m0 + ${r}u) * p.ldc;`,
      ...js.map((j) => `        if (n + ${j}u < p.N) { let i = row + (n + ${j}u) * p.colStrideC; c[i] = c${j} + biasF${j >> 2}[${j % 4}] + rowB${r} + select(0.0, c[i], add); }`),
      '      }',
      '      }',
    ]),
    '    }',
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}

