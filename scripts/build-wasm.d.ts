/** The TypeScript module src/rendering/lanczos.wat assembles to (scripts/build-wasm.js). */
export function assembledModule(): Promise<string>;
