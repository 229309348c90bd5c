/**
 * The part of the WebAssembly JavaScript API the functions use: Node has it as a global, but TypeScript
 * declares it only in its DOM and worker libraries, which do not belong in a Lambda's types.
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
}
