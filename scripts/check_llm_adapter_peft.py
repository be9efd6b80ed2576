#!/usr/bin/env python3
"""A LoRAKit causal-LM adapter in Python: PEFT loads it onto transformers' model from the same GGUF,
and the two must agree on what the adapted model says.

    python3 scripts/check_llm_adapter_peft.py RECIPE [--lorakit .build/release/lorakit] [--count 10]

RECIPE is a causal_lm recipe with chat data (e.g. recipes/llm/smollm2_dates_lora.yaml) whose run has
written its adapter (`output_dir/adapter`). For the first COUNT user messages of the recipe's test
(else validation) split, `lorakit predict RECIPE --json` gives the greedy answer's tokens and each
token's log-probability. This script renders the same message with transformers' chat template
(tokenizer from the GGUF), loads the GGUF with transformers (float32, every tensor dequantised by
gguf-py) and the adapter with `PeftModel.from_pretrained`, and checks: the prompt ids are equal, the
greedy tokens are equal, and the log-probabilities differ by at most 1e-3. Needs torch, transformers,
peft, gguf, pyyaml. Exit status 1 on any difference.
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import yaml

sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("--lorakit", default=".build/release/lorakit")
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = os.path.dirname(os.path.abspath(args.recipe))
    recipe = yaml.safe_load(open(args.recipe))
    weights = os.path.join(base, recipe["model"]["weights"])
    adapter = os.path.join(base, recipe["output_dir"], "adapter")
    split = recipe["data"].get("test") or recipe["data"]["validation"]
    messages = []
    for line in open(os.path.join(base, split)):
        conversation = json.loads(line)["messages"]
        messages.append(next(m["content"] for m in conversation if m["role"] == "user"))
        if len(messages) == args.count:
            break

    out = subprocess.run([args.lorakit, "predict", args.recipe, "--json", "--input"] + messages,
                         capture_output=True, text=True, check=True).stdout
    predictions = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
    assert len(predictions) == len(messages), out

    directory, name = os.path.split(weights)
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, torch_dtype=torch.float32)
    model = PeftModel.from_pretrained(model, adapter).eval()
    worst, failures = 0.0, 0
    for message, p in zip(messages, predictions):
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                               tokenize=True)
        if hasattr(prompt, "input_ids"):
            prompt = prompt["input_ids"]
        prompt = list(prompt)
        tokens = p["tokens"]
        if len(prompt) != p["prompt_tokens"]:
            print(f"{message!r}: prompt of {len(prompt)} tokens here, {p['prompt_tokens']} in lorakit")
            failures += 1
            continue
        with torch.no_grad():
            ids = torch.tensor([prompt + tokens])
            logits = model(input_ids=ids).logits[0, len(prompt) - 1:-1].double()
            logprobs = torch.log_softmax(logits, dim=-1)
            theirs = [logprobs[i, t].item() for i, t in enumerate(tokens)]
            greedy = logits.argmax(dim=-1).tolist()
        difference = max(abs(a - b) for a, b in zip(theirs, p["token_logprobs"]))
        worst = max(worst, difference)
        same = greedy == tokens
        print(f"{message!r} → {p['completion']!r}: {len(tokens)} tokens, greedy {'equal' if same else 'DIFFERENT'}, "
              f"largest |log p − PEFT's| {difference:.2e}")
        if not same or difference > 1e-3:
            failures += 1
    print(f"{len(messages) - failures} of {len(messages)} agree; largest log-probability difference {worst:.2e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
