/**
 * The kind of a failure (the README's table says when each occurs):
 * `input` a bad argument; `state` a call out of order (no model loaded, not open);
 * `index` the vector index refused (dimension, NaN, `k`, a corrupt file); `collection` an
 * unknown or duplicate collection, or a request the collection cannot serve; `model` a model
 * file or an image that could not be read; `compute` the device failed; `train` training could
 * not run; `worker` the worker could not start; `wasm` a wasm module could not load;
 * `storage` the origin's storage could not be opened or written; `quota` the origin's storage
 * is full; `aborted` the call was cancelled (an `AbortError`); `internal` a bug.
 */
export type SimilErrorCode =
  | 'input'
  | 'state'
  | 'index'
  | 'collection'
  | 'model'
  | 'compute'
  | 'train'
  | 'worker'
  | 'wasm'
  | 'storage'
  | 'quota'
  | 'aborted'
  | 'internal';

/** Every failure of simil: `name` is "SimilError", `code` names the kind of failure. */
export class SimilError extends Error {
  readonly name: 'SimilError';
  readonly code: SimilErrorCode;
}

/** How vectors of a field are compared; scores are always "higher is closer". */
export type Metric = 'cosine' | 'dot' | 'l2';

/** How sealed vectors of a field are kept (see `FieldSpec.storage`). */
export type VectorStorage = 'f32' | 'int8' | 'int8_only';

/** One vector field of a collection. */
export interface FieldSpec {
  name: string;
  /** Width of its vectors; a field bound to a model (`embed`) may leave it out: the model's width. */
  dim?: number;
  metric: Metric;
  /**
   * Default "f32". "int8": int8 codes for graph builds and the search pass, f16 copies to
   * rescore `numCandidates`. "int8_only": the int8 codes alone (about a quarter of f32's
   * memory); scores and `get()` use the vectors decoded from the codes (approximate).
   */
  storage?: VectorStorage;
}

/** What a collection holds and how its HNSW graphs are built. */
export interface CollectionConfig {
  fields: FieldSpec[];
  /** `heuristic` (default true): diverse links; false builds several times faster, lower recall. */
  hnsw?: { m?: number; efConstruction?: number; efSearch?: number; heuristic?: boolean };
  /** Items kept in the exact segment before it is sealed into an HNSW graph. */
  sealThreshold?: number;
  /** Payload keys (string or string-array values) that `text` queries search with BM25. */
  textFields?: string[];
  /**
   * Fields bound to a model, by the input they embed: `{ photo: 'image' }` embeds an item's
   * `image` (and an `image` query) into `photo` with the loaded image model (or CLIP); 'text'
   * embeds `text` with the text model (or CLIP). The default model loads by itself when none is.
   */
  embed?: Record<string, 'image' | 'text'>;
}

/** A payload filter; `field` is a dotted path into the payload. */
export type Filter =
  | { eq: { field: string; value: unknown } }
  | { in: { field: string; values: unknown[] } }
  | { range: { field: string; gt?: number; gte?: number; lt?: number; lte?: number } }
  | { exists: { field: string } }
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter };

/** Options shared by every query. */
export interface QueryOptions {
  k: number;
  /** Candidates gathered per field and segment, then rescored exactly (default max(k, efSearch)). */
  numCandidates?: number;
  filter?: Filter;
  /** Hits scoring below this are dropped. */
  minScore?: number;
  /** Brute force over every item instead of the graphs. */
  exact?: boolean;
  /**
   * Keywords searched with BM25 over the collection's `textFields`. With a vector too, the
   * two rankings are fused by reciprocal rank (hybrid search, `score` = Σ 1/(60 + rank));
   * alone, hits come by BM25 score. `filter` applies to both.
   */
  text?: string;
}

/** An item: an id, vectors by field name, and any JSON payload. */
export interface Item {
  id: string;
  vectors?: Record<string, number[] | Float32Array>;
  /** Embedded into the fields bound to 'image' (`CollectionConfig.embed`) as the item is added. */
  image?: ImageInput;
  /** Embedded into the fields bound to 'text' as the item is added. */
  text?: string;
  payload?: unknown;
}

/** A search: one vector (first field unless `field` says), several weighted fields, or only `text`. */
export type Query = QueryOptions &
  (
    | { text: string }
    | { image: ImageInput; field?: string }
    | { vector: number[] | Float32Array; field?: string }
    | { vectors: { field: string; vector: number[] | Float32Array; weight?: number }[] }
  );

/** One result, best first. */
export interface Hit {
  id: string;
  score: number;
  payload: unknown;
}

/**
 * Which path answered a search: `image` (the query image through the image model), `text` (a
 * field bound to texts), `clip` (words onto an image field through CLIP), `aligner` (words onto
 * an image field through the collection's text→image aligner), `keywords` (BM25 alone), or
 * `vector` (the caller's vectors).
 */
export type SearchPath = 'image' | 'text' | 'clip' | 'aligner' | 'keywords' | 'vector';

/** The hits of a search, best first, and the path that found them. */
export type Hits = Hit[] & { via: SearchPath };

/** A named collection living in the worker. */
export class Collection {
  readonly name: string;
  /**
   * Adds (or replaces, by id) items; resolves to how many. Items' `image` / `text` are embedded
   * in the worker, `batchSize` (default 16) at a time; each batch is searchable once added, and
   * a cancel stops before the next batch (batches already added stay).
   */
  add(items: Item[], options?: { batchSize?: number; onProgress?: (progress: BatchProgress) => void; signal?: AbortSignal }): Promise<number>;
  delete(ids: string | string[]): Promise<number>;
  search(query: Query): Promise<Hits>;
  /** Sets the HNSW beam width `efSearch` (recall against speed) without rebuilding the graphs; saved with the collection. */
  setEfSearch(ef: number): Promise<void>;
  count(): Promise<number>;
  get(id: string): Promise<Item | null>;
  /** The configuration: fields, HNSW parameters, seal threshold and text fields. */
  config(): Promise<Required<CollectionConfig>>;
  stats(): Promise<CollectionStats>;
  /** The collection as bytes (versioned, checksummed); learned fields and their heads included. */
  save(): Promise<Uint8Array>;
  /** The collection as a file to keep or move to another browser (`Simil.importCollection`). */
  export(): Promise<Blob>;
  /**
   * Trains a metric head on `field`'s vectors labelled by payload key `labelKey` (unlabelled
   * items feed the self-supervised term) and installs it as the learned field `output`: every
   * item is re-embedded, later adds too. Query it with vectors of the source field's space.
   * Searches keep answering meanwhile; aborting `signal` leaves the collection unchanged.
   */
  trainHead(options: TrainHeadOptions): Promise<TrainHeadResult>;
  /** Installs a trained head (`TrainHeadResult.head`) as the learned field `output` computed from `source`. */
  learnField(output: string, options: {
    source: string;
    head: Uint8Array;
    /**
     * A text head (same format, the text model's width in, the field's width out): a
     * text→image aligner. Words then search this field (`search({ text })`, `via: 'aligner'`)
     * when no CLIP is loaded. Installed with the field or not at all; retraining drops it.
     */
    textHead?: Uint8Array;
  }): Promise<LearnedField[]>;
  /** The learned fields and the shapes of their heads. */
  learnedFields(): Promise<LearnedField[]>;
  /** recall@k, precision@k, NDCG@k and mAP@R of labelled queries against this collection. */
  evaluate(queries: LabelledQueries & { k?: number }): Promise<Evaluation>;
  /** The `minScore` for `match`: for a target precision, or the best F1 without one. */
  calibrate(queries: LabelledQueries & { precision?: number }): Promise<Calibration>;
  /** The nearest item's label when its score reaches `minScore`, else `label: null` (unknown). */
  match(vector: number[] | Float32Array, options: { field?: string; labelKey: string; minScore: number }): Promise<Match>;
}

/** What `stats` reports: items, the index's segments and the bytes each field's vector takes. */
export interface CollectionStats {
  items: number;
  segments: { kind: 'mutable' | 'sealed'; rows: number; live: number }[];
  fields: { name: string; storage: VectorStorage; bytesPerVector: number }[];
}

/** What `match` found. */
export interface Match {
  label: string | null;
  id: string | null;
  score: number | null;
}

/** A metric loss `trainHead` can use. */
export type LossName =
  | 'contrastive'
  | 'triplet_batch_hard'
  | 'triplet_semi_hard'
  | 'triplet_batch_all'
  | 'multi_similarity'
  | 'circle'
  | 'supervised_contrastive'
  | 'pn';

export interface TrainHeadOptions {
  /** The vector field to train on (frozen embeddings, or raw pixels). */
  field: string;
  /** The payload key holding each item's label (a string or a number). */
  labelKey: string;
  /** The name of the learned field to create (or replace). */
  output: string;
  /**
   * Every option below is optional: left out, it follows the recipe the labelled set calls for
   * (README, "Training"): about 256 items a batch, `examplesPerClass` the median items per label
   * (2–16) and `classesPerBatch` 256 / that; square grey image rows get augmentation, the SimCLR
   * term and a 512 → 256 head (450 steps); frozen embeddings a linear residual head of their own
   * width and about 70 passes (100–800 steps).
   */
  /** Width of the learned embedding (default 256, or the source's width for a residual head). */
  dim?: number;
  /** Hidden layer widths (default [512]; none for a residual head). */
  hidden?: number[];
  /** Most optimiser steps (the held-out check may stop sooner). */
  steps?: number;
  loss?: LossName;
  distance?: 'cosine' | 'l2' | 'squared_l2';
  learningRate?: number;
  warmupSteps?: number;
  weightDecay?: number;
  classesPerBatch?: number;
  examplesPerClass?: number;
  /** Seed of the weights, the held-out labels, the batches and the augmentations: the same seed trains the same head on the CPU. */
  seed?: number;
  /** The SimCLR term on unlabelled items: false for none (weight 1, batch 128, temperature 0.2). */
  selfSupervised?: boolean | { weight?: number; batch?: number; temperature?: number };
  /** Random affine augmentation of square grey images (rows of side × side values). */
  augment?: { side: number; maxShift?: number; maxRotationDeg?: number; maxScale?: number };
  /** A residual head, normalize(x + f(x)) with f starting at zero (default: for frozen embeddings). */
  residual?: boolean;
  /**
   * Weight of the source-neighbour term of a residual head (default 5; 0 for none): how the head
   * ranks items of other labels (and unlabelled items) is kept near the source's, so it moves
   * the source only where the labels say so and items unlike the training set keep their
   * source neighbours.
   */
  keepSource?: number;
  /** Share of the labels held out to check the head on (default 0.2, at least 2 labels; 0 for no check). */
  holdOut?: number;
  /** Install the learned field even when it scores below its source on the held-out labels (default false). */
  keepIfWorse?: boolean;
  /** Where training runs (default: the engine's backend). */
  backend?: 'auto' | 'webgpu' | 'cpu';
  /** Steps between progress reports and chances to answer other calls (default 10). */
  stepsPerSlice?: number;
  onProgress?: (progress: { step: number; steps: number; loss: number; elapsedS: number }) => void;
  signal?: AbortSignal;
}

export interface TrainHeadResult {
  field: string;
  source: string;
  backend: 'webgpu' | 'cpu';
  /** The labels, in the order the trainer numbered them. */
  classes: string[];
  labelled: number;
  unlabelled: number;
  /** Steps run (fewer than planned when the held-out check stopped the run). */
  steps: number;
  losses: Float32Array;
  trainS: number;
  /** The kept head (the best on the held-out labels) as safetensors bytes. */
  head: Uint8Array;
  /** The collection's learned fields after this run (unchanged when it was not installed). */
  learned: LearnedField[];
  /** Whether the learned field was installed. */
  installed: boolean;
  /** Why not, when it was not: it scored below its source on the held-out labels. */
  reason: string | null;
  /** The source field and the kept head scored on the held-out labels; null when there was no check. */
  heldOut: HeldOutCheck | null;
  /** What the run followed: the data as the recipe read it, and the settings it chose. */
  recipe: TrainingRecipe;
}

/** Leave-one-out retrieval among the held-out items. */
export interface HeldOutScores {
  recallAt1: number;
  recallAt10: number;
  mapAtR: number;
}

/** The held-out check of a `trainHead` run. */
export interface HeldOutCheck {
  /** Labels held out (none of their items trained). */
  labels: number;
  /** Items scored. */
  items: number;
  /** The source field. */
  before: HeldOutScores;
  /** The kept head. */
  after: HeldOutScores;
  /** The step of the kept head (0: the untrained head). */
  bestStep: number;
  /** A residual head's learned part, weighted next to its input as kept (α in normalize(x + α f(x))): the smallest of 1, 0.9, …, 0.1 whose held-out score is within one standard error of the best α's (1 for a plain head). */
  residualWeight: number;
  /** Whether the run stopped before its last step because the score stopped improving. */
  stoppedEarly: boolean;
}

/** The settings a `trainHead` run followed. */
export interface TrainingRecipe {
  data: { dim: number; labels: number; itemsPerLabel: number; items: number; unlabelled: number; imageSide: number | null };
  classesPerBatch: number;
  examplesPerClass: number;
  steps: number;
  learningRate: number;
  weightDecay: number;
  selfSupervised: boolean;
  augment: boolean;
  residual: boolean;
  holdOut: number;
}

export interface LearnedField {
  name: string;
  source: string;
  dim: number;
  head: { input: number; hidden: number[]; output: number };
  /** The shape of its text head (a text→image aligner), when it has one. */
  text?: { input: number; hidden: number[]; output: number };
}

export interface LabelledQueries {
  /** The field searched (a learned field takes vectors of its source's space; default: the first field). */
  field?: string;
  labelKey: string;
  vectors: (number[] | Float32Array)[];
  labels: (string | number)[];
}

export interface Evaluation {
  queries: number;
  k: number;
  recallAtK: number;
  precisionAtK: number;
  ndcgAtK: number;
  mapAtR: number;
}

export interface Calibration {
  minScore: number;
  precision: number;
  recall: number;
  f1: number;
}

/** What is loaded in the worker now (`models()`); the page never mirrors it. */
export interface LoadedModels {
  image: Omit<ImageModelInfo, 'bytes'> | Omit<ClipInfo, 'bytes'> | null;
  text: Omit<TextModelInfo, 'bytes'> | Omit<ClipInfo, 'bytes'> | null;
  /** The device the models run on and why (as `Simil.backend` / `backendReason`). */
  device: { backend: 'webgpu' | 'cpu'; reason: string };
}

/** An open engine: one worker; the search module now, models and the trainer on first use. */
export class Simil {
  /** The device models run on once the model module has opened (first model call); null before. */
  readonly backend: 'webgpu' | 'cpu' | null;
  /**
   * Why that device: "asked for cpu", or with `backend: 'auto'` what was measured (the first
   * model load runs on both devices and keeps the faster; remembered per browser and adapter).
   */
  readonly backendReason: string | null;
  /** Where collections persist: the origin's private file system, IndexedDB, or nowhere. */
  readonly storageKind: 'opfs' | 'indexeddb' | 'memory';
  createCollection(name: string, config: CollectionConfig): Promise<Collection>;
  /** Restores a collection from `Collection.save()` bytes; corrupt bytes reject, changing nothing. */
  loadCollection(name: string, bytes: Uint8Array): Promise<Collection>;
  /**
   * The collection `name`: the existing one (restored from the origin's storage, say), or,
   * when there is none and `config` is given, a new one made from it. Rejects with code
   * "collection" when there is none and no `config`, or when it exists with another config.
   */
  collection(name: string, config?: CollectionConfig): Promise<Collection>;
  /** The collections' names, in order. */
  listCollections(): Promise<string[]>;
  /** Drops a collection, and its persisted copy; resolves to whether it existed. */
  deleteCollection(name: string): Promise<boolean>;
  /** Restores a collection from an exported file (`Collection.export()`), a URL or bytes; corrupt files reject, changing nothing. */
  importCollection(name: string, file: Blob | ArrayBuffer | Uint8Array | string | URL): Promise<Collection>;
  /**
   * Where collections persist and how much room they take. `{ persist: true }` first asks the
   * browser to keep the origin's storage under pressure (`navigator.storage.persist()`).
   */
  storage(options?: { persist?: boolean }): Promise<StorageInfo>;
  /** Resolves once every change so far is written to the origin's storage (writes also happen by themselves). */
  flush(): Promise<void>;
  /** The linear memory of each wasm module in the worker, in bytes (null: not loaded yet). */
  memory(): Promise<MemoryUse>;
  /** What is loaded: the image model (or CLIP) and the text model (or CLIP). */
  models(): Promise<LoadedModels>;
  /**
   * Loads the image embedder (MobileNetV2 by default, or InceptionV3; ImageNet-pretrained) into
   * the worker. `whitening`: true (MobileNetV2's default: the PCA whitening learnt at build time
   * from unlabelled images), false, a URL, or bytes from `fitImageWhitening`. InceptionV3 ships
   * no whitening: it defaults to false.
   */
  loadImageModel(options?: {
    model?: ImageModelName;
    weights?: 'int8' | 'f32';
    url?: string | URL;
    whitening?: boolean | string | URL | Uint8Array;
    /** Hears each file's download: the weights, and the whitening when it is a URL. */
    onProgress?: (progress: DownloadProgress) => void;
    signal?: AbortSignal;
  }): Promise<ImageModelInfo>;
  /** Embeds images into unit vectors, `batchSize` (default 8) at a time; one Float32Array per image. */
  embedImages(
    images: ImageInput[],
    options?: {
      batchSize?: number;
      /** false: skip the model's whitening (plain GeM vectors). */
      whiten?: boolean;
      onProgress?: (progress: BatchProgress) => void;
      signal?: AbortSignal;
    },
  ): Promise<Float32Array[]>;
  /** Loads the text embedder (all-MiniLM-L6-v2) into the worker; texts are truncated at 256 tokens. */
  loadTextModel(options?: {
    weights?: 'int8' | 'f32';
    url?: string | URL;
    tokenizerUrl?: string | URL;
    /** Hears each file's download: the weights and the tokenizer. */
    onProgress?: (progress: DownloadProgress) => void;
    signal?: AbortSignal;
  }): Promise<TextModelInfo>;
  /** Embeds texts into unit vectors, `batchSize` (default 32) at a time; one Float32Array per text. */
  embedTexts(
    texts: string[],
    options?: { batchSize?: number; onProgress?: (progress: BatchProgress) => void; signal?: AbortSignal },
  ): Promise<Float32Array[]>;
  /**
   * Loads CLIP from your own Hugging Face `CLIPModel` checkpoint: each file a URL or the file
   * itself. Afterwards `embedImages` and `embedTexts` both run CLIP, into one joint space
   * (`models()` then lists it as both); loading another image or text model
   * unloads it. Texts are truncated at 77 tokens.
   */
  loadClip(files: {
    /** `model.safetensors` (f32). */
    weights: ModelFile;
    /** `config.json` (heads, activation, LayerNorm epsilon). */
    config: ModelFile;
    /** The tokeniser's `vocab.json`. */
    vocab: ModelFile;
    /** The tokeniser's `merges.txt`. */
    merges: ModelFile;
    /** Hears the download of each file given as a URL. */
    onProgress?: (progress: DownloadProgress) => void;
    signal?: AbortSignal;
  }): Promise<ClipInfo>;
  /**
   * Learns the whitening from your own unlabelled images and uses it from now on; resolves to
   * its bytes (store them, pass them to `loadImageModel({ whitening })` later). A cancelled
   * call keeps the previous whitening.
   */
  fitImageWhitening(
    images: ImageInput[],
    options?: { batchSize?: number; onProgress?: (progress: BatchProgress) => void; signal?: AbortSignal },
  ): Promise<Uint8Array>;
  terminate(): void;
}

/** An image: encoded bytes in any format the browser decodes (PNG, JPEG, WebP, GIF, AVIF; EXIF orientation applied, transparency on white) or pixels. */
export type ImageInput = Blob | ArrayBuffer | Uint8Array | ImageData | ImageBitmap;

/** The image networks: MobileNetV2 (default, 224 px) or InceptionV3 (299 px). */
export type ImageModelName = 'mobilenet_v2' | 'inception_v3';

/** What `loadImageModel` loaded. */
export interface ImageModelInfo {
  /** Dimension of the embeddings. */
  dim: number;
  /** How the weights are stored. */
  weights: 'int8' | 'f32';
  /** Whether image vectors are whitened. */
  whitened: boolean;
  /** Which network the weights file holds. */
  model: ImageModelName;
  /** Side of the square image the network sees (224 or 299 px). */
  inputSize: number;
  /** Size of the weights file in bytes. */
  bytes: number;
}

/**
 * Opens simil in a new module worker (only the search module loads now). `backend` (default
 * "auto": WebGPU, else CPU) is where models run once the first model call opens the model
 * module; an unknown name rejects at once. `weightsUrl`: the folder model files load from
 * (default: `./weights/` beside this module, which holds the default models' int8 weights, the
 * MobileNetV2 whitening and the MiniLM tokenizer; f32 weights and InceptionV3 load from a
 * `weightsUrl` where you host them).
 */
export function open(options?: {
  backend?: 'auto' | 'webgpu' | 'cpu';
  /**
   * Where collections persist (default "auto": OPFS, else IndexedDB): each is written after
   * every batch of changes, atomically, and the next `open()` restores them all. "memory"
   * keeps nothing.
   */
  storage?: 'auto' | 'opfs' | 'indexeddb' | 'memory';
  /**
   * Model workers embedding in parallel on the CPU (default: one a core, at most 4; 1..=16).
   * Each is its own instance of the model module with the models loaded once each; WebGPU runs
   * one. Batches keep their order, progress is one for the whole call, a cancel stops them all.
   */
  workers?: number;
  workerUrl?: string | URL;
  weightsUrl?: string | URL;
  signal?: AbortSignal;
}): Promise<Simil>;

/**
 * Progress of a call that embeds in batches (`add`, `embedImages`, `embedTexts`,
 * `fitImageWhitening`): `{ done, total }` inputs after each batch; and, when the WebGPU device
 * is lost under it, `{ status: 'device-lost', backend: 'cpu', message }`: the batch runs again
 * on the CPU, and the models stay there (`'worker-restarted'`: a model worker crashed and was
 * replaced the same way).
 */
export type BatchProgress =
  | { done: number; total: number }
  | { status: 'device-lost' | 'worker-restarted'; backend: 'cpu'; message: string };

/**
 * Progress of a model file's download, reported to the load calls' `onProgress` as it arrives
 * (at most every 50 ms, and once more when complete, then `loaded === total`). Files given as
 * bytes report nothing; a load that fetches two files (weights and tokenizer, weights and
 * whitening) reports both, told apart by `file`.
 */
export interface DownloadProgress {
  status: 'download';
  /** The file's name: the last segment of its URL (e.g. "minilm.int8.safetensors"). */
  file: string;
  /** The URL it is fetched from. */
  url: string;
  /** Bytes received so far. */
  loaded: number;
  /** The file's size in bytes (its Content-Length), or null while unknown (no length, or a compressed response). */
  total: number | null;
  /**
   * true when the file came from simil's cache (the Cache API, checked against its SHA-256)
   * rather than the network: then this is the file's one report, with `loaded === total`.
   */
  cached?: true;
}

/** Bytes of linear memory per wasm module (`memory()`); wasm memory grows and never shrinks. */
/** Bytes of wasm memory of each module: `model` sums the pool's workers (null before the first model call). */
export interface MemoryUse {
  search: number;
  model: number | null;
  trainer: number | null;
  /**
   * The index builder worker's (graph builds, and its copy of each graph it grows), as of its
   * last job; null before one.
   */
  builder: number | null;
  /** Each model worker of the pool: its device and its wasm memory in bytes. */
  workers: { backend: 'webgpu' | 'cpu'; bytes: number }[];
}

/** Where collections persist and the room they take (`storage()`). */
export interface StorageInfo {
  kind: 'opfs' | 'indexeddb' | 'memory';
  /** Bytes the origin uses and may use (the browser's estimate; null where it cannot tell). */
  usage: number | null;
  quota: number | null;
  /** Whether the browser keeps the origin's storage under pressure (null where it cannot tell). */
  persisted: boolean | null;
  /** Each collection and the size of its saved file. */
  collections: { name: string; bytes: number }[];
  /** Collections changed since their last write (a write is pending or failed). */
  unsaved: string[];
  /** Persisted collections that did not load at `open()`; their files are kept as they are. */
  damaged: { name: string; message: string }[];
  /** The last write's failure (code "storage" or "quota"), or null. */
  error: { name: string; code: SimilErrorCode; message: string } | null;
}

/** A model file for `loadClip`: a URL (resolved against the page) or its bytes. */
export type ModelFile = string | URL | Blob | ArrayBuffer | Uint8Array;

/** What `loadClip` loaded. */
export interface ClipInfo {
  /** Dimension of the joint embedding space (the projection width). */
  dim: number;
  /** How the weights are stored. */
  weights: 'int8' | 'f32';
  model: 'clip';
  /** Side of the square image the vision tower sees. */
  inputSize: number;
  /** CLIP's image vectors are never whitened. */
  whitened: false;
  /** Longest text in tokens (77); longer texts are truncated. */
  maxTokens: number;
  /** Size of the weights file in bytes. */
  bytes: number;
}

/** What `loadTextModel` loaded. */
export interface TextModelInfo {
  /** Dimension of the embeddings (384). */
  dim: number;
  /** How the weights are stored. */
  weights: 'int8' | 'f32';
  /** Longest input in tokens; longer texts are truncated. */
  maxTokens: number;
  /** Size of the weights file in bytes. */
  bytes: number;
}
