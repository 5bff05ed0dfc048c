/**
 * The placement rules as a table: what `persistent: 'auto'` runs for each adapter kind and
 * shape (pure functions, nothing compiled), the thresholds' overrides, and an engine's table.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine.js';
import { gpuEngine } from '../helpers/engines.js';
import { WebRnnError } from '../../src/errors.js';
import { placementFor, type AdapterProfile, type Placement, type WorkShape } from '../../src/placement/rules.js';
import { DEFAULT_PLACEMENT, resolvePlacement } from '../../src/placement/table.js';

const software: AdapterProfile = { info: { software: true } };
const gpu: AdapterProfile = { info: { software: false } };
const coop: AdapterProfile = { ...gpu, placement: resolvePlacement({ gpuCooperativeMaxHidden: 256, gpuCooperativeMaxRows: 16 }) };
const tiled: AdapterProfile = { ...gpu, placement: resolvePlacement({ gpuTiledMinHidden: 256, gpuTiledMinRows: 16 }) };
const shape = (gates: number, hidden: number, batch: number, seqLen = 16, onePhase = true): WorkShape => ({ gates, onePhase, hidden, batch, seqLen });
const LSTM = 4;
const GRU = 3;
const RNN = 1;

// [adapter, shape, expected choices]; the thresholds are those of docs/decisions.md D1-D6.
const TABLE: Array<[string, AdapterProfile, WorkShape, Placement]> = [
  ['software, LSTM H=128, one row: resident, compiled in the background', software, shape(LSTM, 128, 1), { direct: true, persistent: true, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: true, wideTile: false, compilesInBackground: true }],
  ['software, GRU H=32, 8 rows: resident with the tile, per-step sweep with the wide tile', software, shape(GRU, 32, 8), { direct: true, persistent: true, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: true, compilesInBackground: false }],
  ['software, LSTM H=256, 16 rows: resident one row a workgroup (no tile past H = 128)', software, shape(LSTM, 256, 16), { direct: true, persistent: true, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: true, compilesInBackground: true }],
  ['software, Elman H=512, 64 rows: resident sweep at every batch', software, shape(RNN, 512, 64), { direct: true, persistent: true, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: true, wideTile: false, compilesInBackground: true }],
  ['software, GRU H=300, 2 rows: resident forward, per-step sweep past H = 256', software, shape(GRU, 300, 2), { direct: true, persistent: true, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: true }],
  ['software, Elman H=513: nothing resident past H = 512', software, shape(RNN, 513, 1), { direct: true, persistent: false, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['software, one step: per-step kernels', software, shape(LSTM, 64, 1, 1), { direct: true, persistent: false, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['software, two-phase GRU: per-step kernels', software, shape(GRU, 64, 4, 16, false), { direct: true, persistent: false, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, LSTM H=128, 64 rows: staged persistent', gpu, shape(LSTM, 128, 64), { direct: false, persistent: true, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, LSTM H=128, 65 rows: per step', gpu, shape(LSTM, 128, 65), { direct: false, persistent: false, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, GRU H=256, 63 rows: staged persistent', gpu, shape(GRU, 256, 63), { direct: false, persistent: true, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, GRU H=256, 64 rows: per step', gpu, shape(GRU, 256, 64), { direct: false, persistent: false, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, Elman H=512, one row: per step', gpu, shape(RNN, 512, 1), { direct: false, persistent: false, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  // The cooperative form where the table turns it on (D12: off by default until measured).
  ['GPU, cooperative to H=256: LSTM H=128, one row', coop, shape(LSTM, 128, 1), { direct: false, persistent: true, batchTile: false, cooperative: true, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, cooperative to H=256: GRU H=256, 16 rows, in place of the tile', coop, shape(GRU, 256, 16), { direct: false, persistent: true, batchTile: false, cooperative: true, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, cooperative to 16 rows: LSTM H=64, 17 rows: the tile', coop, shape(LSTM, 64, 17), { direct: false, persistent: true, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, cooperative: the two-phase GRU is per step', coop, shape(GRU, 64, 1, 16, false), { direct: false, persistent: false, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, cooperative to H=512 on 512 invocations: Elman H=256, one row (persistent by D3)', { ...coop, placement: resolvePlacement({ gpuCooperativeMaxHidden: 512, gpuCooperativeMaxRows: 16 }), limits: { maxComputeInvocationsPerWorkgroup: 512, maxComputeWorkgroupSizeX: 512 } }, shape(RNN, 256, 1), { direct: false, persistent: true, batchTile: false, cooperative: true, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  // The tiled form where the table turns it on (D13: off by default until measured).
  ['GPU, tiled from H=256 at 16 rows: LSTM H=512, 64 rows', tiled, shape(LSTM, 512, 64), { direct: false, persistent: false, batchTile: true, cooperative: false, tiled: true, tiledSweep: true, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, tiled from 16 rows: Elman H=512, 15 rows: the staged tile', tiled, shape(RNN, 512, 15), { direct: false, persistent: false, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, tiled from H=256: GRU H=200, 64 rows: the staged tile', tiled, shape(GRU, 200, 64), { direct: false, persistent: false, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, tiled: LSTM H=256, 32 rows is persistent (D3), not tiled; its sweep is', tiled, shape(LSTM, 256, 32), { direct: false, persistent: true, batchTile: true, cooperative: false, tiled: false, tiledSweep: true, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['GPU, tiled: the two-phase GRU keeps its staged form', tiled, shape(GRU, 512, 64, 16, false), { direct: false, persistent: false, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: false, compilesInBackground: false }],
  ['software, tiled turned on: never (the direct product)', { ...software, placement: tiled.placement }, shape(RNN, 600, 64), { direct: true, persistent: false, batchTile: true, cooperative: false, tiled: false, tiledSweep: false, residentSweep: false, wideTile: true, compilesInBackground: false }],
  ['software, cooperative turned on: never (the resident form)', { ...software, placement: coop.placement }, shape(LSTM, 64, 1), { direct: true, persistent: true, batchTile: false, cooperative: false, tiled: false, tiledSweep: false, residentSweep: true, wideTile: false, compilesInBackground: true }],
];

describe('placement rules', () => {
  for (const [name, profile, work, expected] of TABLE) {
    it(name, () => {
      expect(placementFor(profile, work)).toEqual(expected);
    });
  }

  it('follow an overridden table', () => {
    const lower = { placement: resolvePlacement({ gpuPersistentMaxHidden: 128, residentGatedSweepMaxHidden: 64, residentBackgroundMinHidden: 200, residentTileMaxHidden: 256 }) };
    expect(placementFor({ ...gpu, ...lower }, shape(GRU, 256, 4)).persistent).toBe(false);
    expect(placementFor({ ...software, ...lower }, shape(LSTM, 128, 2)).residentSweep).toBe(false);
    expect(placementFor({ ...software, ...lower }, shape(LSTM, 128, 2)).compilesInBackground).toBe(false);
    expect(placementFor({ ...software, ...lower }, shape(LSTM, 256, 8)).batchTile).toBe(true);
    // A hidden size past the device's workgroup: the staged form, whatever the table says.
    const wide = { ...gpu, placement: resolvePlacement({ gpuCooperativeMaxHidden: 1024 }) };
    expect(placementFor(wide, { ...shape(RNN, 300, 1), seqLen: 16 }).persistent).toBe(false);
    expect(placementFor({ ...wide, placement: resolvePlacement({ gpuCooperativeMaxHidden: 1024, gpuPersistentMaxHidden: 512 }) }, shape(RNN, 300, 1))).toMatchObject({ persistent: true, cooperative: false });
  });

  it('refuse unknown entries and values that are not non-negative integers, by name', () => {
    // Input as it may come from JavaScript: any keys.
    const unknown: Record<string, number> = { gpuMaxHidden: 3 };
    expect(() => resolvePlacement(unknown)).toThrow(/unknown entry 'gpuMaxHidden'/);
    expect(() => resolvePlacement({ gpuPersistentMaxRows: -1 })).toThrow(/gpuPersistentMaxRows must be a non-negative integer/);
    expect(() => resolvePlacement({ residentTileMinRows: 2.5 })).toThrow(WebRnnError);
    expect(resolvePlacement()).toEqual(DEFAULT_PLACEMENT);
  });

  it("an engine's table: the defaults with createEngine's overrides, refused before any adapter is asked for", async () => {
    const unknown: Record<string, number> = { nope: 1 };
    await expect(createEngine({ placement: unknown })).rejects.toThrow(/unknown entry 'nope'/);
    const engine = await gpuEngine({ placement: { residentBackgroundMinHidden: 96 } });
    try {
      expect(engine.placement).toEqual({ ...DEFAULT_PLACEMENT, residentBackgroundMinHidden: 96 });
      // The engine is a profile itself: its adapter and its table.
      const work = shape(LSTM, 80, 1);
      expect(placementFor(engine, work).compilesInBackground).toBe(false);
      expect(placementFor(engine, work)).toEqual(placementFor({ info: engine.info, placement: engine.placement }, work));
    } finally {
      engine.destroy();
    }
  });
});
