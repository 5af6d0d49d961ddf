#!/usr/bin/env python3
"""Peer of `node bench/text.mjs`: sentences/s of sentence-transformers (torch, CPU) on the same
all-MiniLM-L6-v2 files and the same sentences as simil's native run. Prints one JSON object.

    ~/.cache/simil-py/bin/python bench/text_st.py <model_dir> [rounds=3]
"""

import json
import sys
import time
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parent.parent
model_dir = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
sentences = json.loads((ROOT / "tests/fixtures/minilm_sentences.json").read_text())["sentences"]
model = SentenceTransformer(model_dir, device="cpu")
model.encode(sentences[:8])  # warm-up
started = time.perf_counter()
for _ in range(rounds):
    model.encode(sentences, batch_size=32, normalize_embeddings=True)
elapsed = time.perf_counter() - started
print(json.dumps({
    "env": "native",
    "engine": f"sentence-transformers {__import__('sentence_transformers').__version__} "
    f"(torch {torch.__version__} CPU, {torch.get_num_threads()} threads) f32",
    "sentences_per_s": rounds * len(sentences) / elapsed,
}))
