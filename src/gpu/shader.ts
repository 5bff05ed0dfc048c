/**
 * WGSL source handling: `#if NAME` sections resolved by wgsl-preprocessor, and the layout
 * of the `struct Params` uniform read from the WGSL itself, so that the struct in the shader
 * is the single declaration of every uniform layout.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

/**
 * Resolve `#if NAME` / `#elif NAME` / `#else` / `#endif` in `source`. Every NAME used must be
 * given in `defines`; an unknown one is an error rather than a silent `false`.
 */
export function preprocessWgsl(source: string, defines: Readonly<Record<string, boolean>>): string {
  const strings: string[] = [];
  const values: boolean[] = [];
  const directive = /#(if|elif)[ \t]+([A-Za-z_][A-Za-z0-9_]*)/g;
  let last = 0;
  for (const m of source.matchAll(directive)) {
    const name = m[2];
    if (!(name in defines)) throw new Error(`WGSL preprocessor: '${name}' is used by #${m[1]} but not defined`);
    strings.push(source.slice(last, m.index) + `#${m[1]}`);
    values.push(defines[name]);
    last = m.index + m[0].length;
  }
  strings.push(source.slice(last));
  return wgsl(strings, ...values);
}

/** Byte layout of a WGSL uniform struct made of 4-byte scalars. */
export interface UniformLayout {
  readonly name: string;
  readonly fields: ReadonlyArray<{ name: string; type: 'u32' | 'i32' | 'f32'; offset: number }>;
  /** Size in bytes, rounded up to the 16 bytes a uniform binding is allocated in. */
  readonly size: number;
}

/**
 * Read the layout of `struct <name>` from WGSL source. Only 4-byte scalar members are
 * accepted (their offsets are then 4·index with no padding); anything else is an error, so a
 * layout this function cannot compute exactly is never guessed.
 */
export function parseUniformLayout(source: string, name = 'Params'): UniformLayout {
  const m = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(source);
  if (!m) throw new Error(`WGSL: struct ${name} not found`);
  const body = m[1].replace(/\/\/[^\n]*/g, '');
  const fields: Array<{ name: string; type: 'u32' | 'i32' | 'f32'; offset: number }> = [];
  for (const member of body.split(',')) {
    const text = member.trim();
    if (!text) continue;
    const f = /^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([A-Za-z0-9_<>]+)$/.exec(text);
    if (!f || (f[2] !== 'u32' && f[2] !== 'i32' && f[2] !== 'f32')) {
      throw new Error(`WGSL: struct ${name} member '${text}' is not a 4-byte scalar`);
    }
    fields.push({ name: f[1], type: f[2], offset: fields.length * 4 });
  }
  return { name, fields, size: Math.ceil((fields.length * 4) / 16) * 16 };
}

/**
 * Pack `values` into `target` (at byte `offset`) following `layout`. Every field must be
 * given and no other key may be: a typo fails here instead of leaving a zero in the uniform.
 */
export function packUniform(
  layout: UniformLayout,
  values: Readonly<Record<string, number>>,
  target: ArrayBuffer = new ArrayBuffer(layout.size),
  offset = 0,
): ArrayBuffer {
  const view = new DataView(target, offset, layout.size);
  for (const key of Object.keys(values)) {
    if (!layout.fields.some((f) => f.name === key)) throw new Error(`uniform ${layout.name}: no field '${key}'`);
  }
  for (const f of layout.fields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`uniform ${layout.name}: field '${f.name}' not given`);
    if (f.type === 'f32') view.setFloat32(f.offset, v, true);
    else {
      if (!Number.isInteger(v)) throw new Error(`uniform ${layout.name}: field '${f.name}' = ${v} is not an integer`);
      if (f.type === 'u32') {
        if (v < 0 || v > 0xffffffff) throw new Error(`uniform ${layout.name}: field '${f.name}' = ${v} does not fit u32`);
        view.setUint32(f.offset, v, true);
      } else view.setInt32(f.offset, v, true);
    }
  }
  return target;
}
