#!/usr/bin/env python3
"""A tiny, randomly initialised CLIP checkpoint and its reference outputs, for simil's CLIP
loader parity tests (tests/clip_parity.rs, tests/browser/clip.test.mjs). No download.

    ~/.cache/simil-py/bin/python scripts/make_tiny_clip.py [out_dir=tests/fixtures/clip]

Needs `transformers`, `torch` (CPU) and `numpy` from PyPI (the venv of setup.sh's
setup_text_reference). Seeded: a rerun writes the same files. Writes to <out_dir>:

* `vocab.json`, `merges.txt`: a CLIP byte-level BPE vocabulary in CLIP's own layout (the 256
  byte characters, their `</w>` word-end forms, the merges learnt here from a small corpus,
  then `<|startoftext|>` and `<|endoftext|>`, the highest id);
* `config.json`, `model.safetensors`: a `CLIPModel` (text 32 wide, vision 32 wide, 2 layers
  each, 2 and 4 heads, 32 px images in 8 px patches, projection 24), f32, as
  `save_pretrained` writes them;
* `tokens.json`: transformers' `CLIPTokenizer` ids of >= 200 strings (punctuation, numbers,
  accents, decomposed accents, non-Latin scripts, emoji, special-token text, whitespace,
  over-long input truncated at 77), with bos/eos;
* `texts.json`: some of those strings and their `text_embeds` (L2-normalised);
* `images.json`: 16 RGB images at the model's size (u8, row-major HWC, base64) and the `image_embeds`
  of their `pixel_values`, (x / 255 - mean) / std with CLIP's mean and std (what
  `CLIPImageProcessor` gives for an image already at the model's size).
"""

import base64
import json
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/fixtures/clip"
MERGES = 300
MAX_TOKENS = 77
IMAGE_SIZE = 32
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

CORPUS = """
a photo of a cat. a photo of a dog. a picture of the sea at night. two people walking on the beach.
the quick brown fox jumps over the lazy dog. it's a sunny day, isn't it? they're here; we've seen them.
a red apple on a wooden table. a bowl of soup with bread. the city skyline in the evening light.
an emoji of a smiling face with hearts. a drawing of a house with a garden and a tree.
mountains covered in snow under a blue sky. a small boat on a calm lake. children playing football.
""" * 3


def bytes_to_unicode():
    """GPT-2/CLIP's reversible byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def learn_vocab(pre_tokenize):
    """CLIP's vocabulary layout with `MERGES` merges learnt greedily from CORPUS."""
    byte_chars = list(bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars]
    words = Counter(pre_tokenize(CORPUS + " ".join(test_strings()[:100])))
    seqs = {w: list(w[:-1]) + [w[-1] + "</w>"] for w in words}
    merges = []
    for _ in range(MERGES):
        pairs = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for w in words:
            s, out, i = seqs[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def test_strings():
    rnd = random.Random(7)
    base = [
        "", " ", "   \t\n  ", "a", "A", "a photo of a cat", "A PHOTO OF A DOG", "Hello, World!",
        "it's", "It'S", "they're we've I'm you'll he'd don't", "rock'n'roll", "'s", "''s'", "x's's",
        "3.14159", "1,000,000", "2024-11-25", "ab12cd", "100%", "$5.99", "#hashtag", "@user",
        "e-mail: someone@example.com", "https://example.com/a?b=c&d=e", "C++ / C# / F#",
        "...", "!!!???", "—–-", "«quoted»", "“smart quotes”", "(parentheses) [brackets] {braces}",
        "café", "naïve résumé", "cafe\u0301", "Ångström", "Straße", "ΣΊΣΥΦΟΣ", "ĲSSEL", "İstanbul",
        "東京は日本の首都です。", "北京", "안녕하세요", "Привет, мир!", "مرحبا بالعالم", "שלום",
        "नमस्ते दुनिया", "ภาษาไทย", "გამარჯობა", "Ελληνικά", "Ꭰ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ｆｕｌｌｗｉｄｔｈ",
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷 flag", "❤️ love", "a🙂b", "🐱🐶🐭", "smiling face with heart-eyes",
        "<|startoftext|>", "<|endoftext|>", "a <|endoftext|> b", "<|ENDOFTEXT|>", "<|start", "|>",
        "tab\tseparated\tvalues", "line\nbreaks\r\nhere", "non\u00a0breaking\u2003spaces",
        "zero\u200bwidth", "control\u0007char", "soft\u00adhyphen", "½ ² ⅷ ①", "٣٤٥ ۱۲", "१२३",
        "under_score", "CamelCaseWord", "snake_case_and-kebab-case", "   leading and trailing   ",
        "ﬁ ligature", "Ⅻ roman", "µ micro", "ǅ titlecase",
    ]
    words = ["cat", "dog", "photo", "of", "a", "the", "sea", "night", "red", "apple", "ÿ", "ß",
             "東", "😀", "3", "42", "!", "?", "'s", "-", "snow", "lake", "über", "ΩΜΕΓΑ"]
    for _ in range(130):
        n = rnd.randint(1, 12)
        sep = rnd.choice([" ", " ", " ", "", ", ", "  "])
        s = sep.join(rnd.choice(words) for _ in range(n))
        if rnd.random() < 0.3:
            s = s.upper()
        base.append(s)
    base += [
        "word " * 100,
        "a photo of a cat, " * 20,
        "東京は日本の首都です。" * 12,
        "😀" * 40,
        "1234567890" * 10,
    ]
    return base


def main():
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)

    # The pre-tokenisation of transformers' CLIPTokenizer, with a placeholder vocabulary.
    placeholder = CLIPTokenizer(vocab={"<|startoftext|>": 0, "<|endoftext|>": 1}, merges=[])
    backend = placeholder.backend_tokenizer

    def pre_tokenize(text):
        norm = backend.normalizer.normalize_str(text)
        return [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(norm)]

    vocab, merges = learn_vocab(pre_tokenize)
    (OUT / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
    (OUT / "merges.txt").write_text(
        "#version: 0.2 (tiny CLIP vocabulary of scripts/make_tiny_clip.py)\n"
        + "".join(f"{a} {b}\n" for a, b in merges))
    tok = CLIPTokenizer(vocab=str(OUT / "vocab.json"), merges=str(OUT / "merges.txt"))
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    assert tok.bos_token_id == bos and tok.eos_token_id == eos

    strings = test_strings()
    cases = [{"text": s, "ids": tok(s, truncation=True, max_length=MAX_TOKENS)["input_ids"]} for s in strings]
    assert len(cases) >= 200
    assert any(len(c["ids"]) == MAX_TOKENS for c in cases)
    (OUT / "tokens.json").write_text(json.dumps(
        {"max_tokens": MAX_TOKENS, "bos": bos, "eos": eos, "cases": cases}, ensure_ascii=False, indent=0) + "\n")

    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=MAX_TOKENS, hidden_act="quick_gelu",
            bos_token_id=bos, eos_token_id=eos, pad_token_id=eos,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            image_size=IMAGE_SIZE, patch_size=8, hidden_act="quick_gelu",
        ),
        projection_dim=24,
    )
    model = CLIPModel(config).eval()
    # The initialisation's small weights give near-constant outputs: widen them so that the
    # parity test tells a wrong layer from a right one.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layrnorm" in name or "layernorm" in name:
                p.add_(torch.randn_like(p) * 0.2)
            elif p.dim() >= 2 or "embedding" in name:
                p.copy_(torch.randn_like(p) * 0.3)
            else:
                p.copy_(torch.randn_like(p) * 0.05)
    model.save_pretrained(OUT, safe_serialization=True)
    # Only what the loader needs: the model files (save_pretrained may add others).
    for extra in OUT.glob("generation_config.json"):
        extra.unlink()

    # Texts: a spread of the token strings, the truncated ones included.
    texts = [c["text"] for c in cases[::4]] + [c["text"] for c in cases if len(c["ids"]) == MAX_TOKENS]
    texts = list(dict.fromkeys(texts))
    enc = tok(texts, truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt")
    with torch.no_grad():
        t = model.get_text_features(**enc)
        t = t.pooler_output if hasattr(t, "pooler_output") else t
        t = torch.nn.functional.normalize(t, dim=-1)
    (OUT / "texts.json").write_text(json.dumps(
        {"texts": texts, "embeds": t.tolist()}, ensure_ascii=False) + "\n")

    # Images: smooth colour fields with noise and a few blocks, at the model's size.
    rng = np.random.default_rng(3)
    images = []
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / IMAGE_SIZE
    for i in range(16):
        a, b, c = rng.uniform(-1, 1, 3)
        img = np.stack([np.sin(3 * a * xx + b * yy + k) for k in range(3)], -1) * 0.5 + 0.5
        img = img + rng.normal(0, 0.1, img.shape)
        x0, y0 = rng.integers(0, IMAGE_SIZE - 8, 2)
        img[y0:y0 + 8, x0:x0 + 8] = rng.uniform(0, 1, 3)
        images.append(np.clip(img * 255, 0, 255).round().astype(np.uint8))
    u8 = np.stack(images)
    pixels = (u8.astype(np.float32) / 255.0 - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    pixels = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        v = model.get_image_features(pixel_values=pixels)
        v = v.pooler_output if hasattr(v, "pooler_output") else v
        v = torch.nn.functional.normalize(v, dim=-1)
    (OUT / "images.json").write_text(json.dumps({
        "size": IMAGE_SIZE, "mean": MEAN, "std": STD,
        "rgb_base64": [base64.b64encode(im.tobytes()).decode() for im in u8],
        "embeds": v.tolist(),
    }) + "\n")
    print(f"wrote {OUT}: vocab {len(vocab)}, {len(cases)} token cases, {len(texts)} texts, {len(images)} images")


if __name__ == "__main__":
    main()
