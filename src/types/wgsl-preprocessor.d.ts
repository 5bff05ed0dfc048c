// Types for the untyped `wgsl-preprocessor` module: a template-literal tag whose `#if`/`#elif`
// directives take the interpolated value that follows them as their condition.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  export function wgsl(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): string;
}
