/** Every failure of simil: `name` is "SimilError", `code` names the kind of failure. */
export class SimilError extends Error {
  readonly name: 'SimilError';
  /** "input" | "index" | "model" | "compute" | "collection" | "worker" | "wasm" | "state" | "internal" */
  readonly code: string;
}

/** How vectors of a field are compared; scores are always "higher is closer". */
export type Metric = 'cosine' | 'dot' | 'l2';

/** One vector field of a collection. */
export interface FieldSpec {
  name: string;
  dim: number;
  metric: Metric;
}

/** An item: an id, vectors by field name, and any JSON payload. */
export interface Item {
  id: string;
  vectors: Record<string, number[] | Float32Array>;
  payload?: unknown;
}

/** A search: one vector (first field unless `field` says) or several weighted fields. */
export type Query =
  | { vector: number[] | Float32Array; field?: string; k: number }
  | { vectors: { field: string; vector: number[] | Float32Array; weight?: number }[]; k: number };

/** One result, best first. */
export interface Hit {
  id: string;
  score: number;
  payload: unknown;
}

/** Options every long call takes. */
export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (progress: unknown) => void;
}

/** A named collection living in the worker. */
export class Collection {
  readonly name: string;
  readonly fields: FieldSpec[];
  add(items: Item[], options?: CallOptions): Promise<number>;
  delete(ids: string | string[]): Promise<number>;
  search(query: Query, options?: CallOptions): Promise<Hit[]>;
  count(): Promise<number>;
}

/** An open engine: one worker, one compute backend. */
export class Simil {
  /** The compute backend in use. */
  readonly backend: 'webgpu' | 'cpu';
  createCollection(name: string, config: { fields: FieldSpec[] }): Promise<Collection>;
  randomProjection(
    rows: Float32Array,
    shape: { inputDim: number; outputDim: number; seed?: number },
    options?: CallOptions,
  ): Promise<Float32Array>;
  terminate(): void;
}

/** Opens simil in a new module worker; `backend` defaults to "auto" (WebGPU, else CPU). */
export function open(options?: {
  backend?: 'auto' | 'webgpu' | 'cpu';
  workerUrl?: string | URL;
  signal?: AbortSignal;
}): Promise<Simil>;
