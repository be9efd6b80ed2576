#!/usr/bin/env python3
"""Writes the byte-level BPE goldens of Tests/LanguageModelsTests/Fixtures from the reference
implementations (`transformers` 5, `tokenizers`), so that the Swift tests need neither Python nor
a network:

    python3 scripts/make_bpe_goldens.py           # needs data/models/smollm2 (scripts/fetch_smollm2)

Files:
  smollm2_tokenizer_goldens.json  SmolLM2-135M-Instruct's tokenizer as `transformers` builds it from
                                  the GGUF (AutoTokenizer.from_pretrained(dir, gguf_file=...)): the ids
                                  of >= 1,000 strings (scripts, emoji, digits, whitespace runs, code,
                                  contractions, special tokens inside text), decodings of those ids
                                  and of arbitrary id sequences (invalid UTF-8 included, with and
                                  without special tokens), and 50 conversations rendered by
                                  `apply_chat_template(..., tokenize=False, add_generation_prompt=...)`
                                  with the GGUF's template and with the plain ChatML template.
  unicode_classes.json            the code points that Oniguruma (the regex engine of `tokenizers`)
                                  matches with \\s, \\p{L} and \\p{N}, as ranges.
  bpe_bytelevel/tokenizer.json    two small BPE tokenizers trained with `tokenizers` on the Debian
  bpe_split/tokenizer.json        fortunes (no model weights), covering what a tokenizer.json can say
  bpe_*/goldens.json              that SmolLM2's does not: Digits, add_prefix_space, a Split regex
                                  with NFC, ignore_merges, merges as pairs, added tokens with
                                  lstrip/rstrip/single_word/normalized, a TemplateProcessing that
                                  adds BOS/EOS; with the ids `tokenizers` gives for the same strings.
  gguf_llama_bpe/tokenizer.gguf   bpe_split's vocabulary as a GGUF (pre = llama-bpe, add_bos_token,
  gguf_llama_bpe/goldens.json     USER_DEFINED and CONTROL tokens in and outside the byte alphabet),
                                  with the ids `transformers` gives loading it.
  gguf_errors/*.gguf              tokenizers a GGUF reader must refuse (another model, an unknown
                                  pre-tokeniser, no merges, a bad merge, a token_type count off by one).
"""
import json
import os
import random
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "LanguageModelsTests", "Fixtures")
MODEL_DIR = os.path.join(ROOT, "data", "models", "smollm2")
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FORTUNES = "/usr/share/games/fortunes"

PLAIN_CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


# MARK: - The strings

def handwritten() -> list[str]:
    return [
        "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "a", "A", "Hello world", " Hello world",
        "Hello world!", "Hello, world.", "hello   world", "hello\tworld", "hello\nworld", "hello \n world",
        "trailing space ", "trailing spaces   ", "  leading spaces", "\tleading tab", "mixed \t \n whitespace",
        # contractions, as the GPT-2 pattern knows them (lowercase only) and as it does not
        "I'm", "I've", "you're", "he'll", "she'd", "it's", "don't", "can't", "won't", "I'M", "YOU'RE", "It'S",
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "''", "'", "rock'n'roll", "o'clock", "l'homme", "it’s curly",
        "x's y's z's", "the dog's bone's", "'hello'", "\"quoted\"", "don't'll've",
        # digits and numbers
        "0", "7", "42", "123", "1234", "12345", "123456789", "3.14159", "2,147,483,647", "1e-10", "0x7FFF",
        "9999999999999999999999999999999999", "10:45pm", "2024-06-14", "+1 (555) 123-4567", "v1.2.3",
        "1st 2nd 3rd 4th", "$100.00", "€50", "¥1000", "50%", "½ cup", " ½", "x²+y³", " ٣٤", "x ١٢٣", "٠١٢٣٤٥٦٧٨٩",
        "１２３", " ４２", "Ⅻ", "ⅷ", "𝟘𝟙𝟚", "①②③", "a1b2c3", "abc123def", " 123", " 1", "1 2 3",
        # punctuation and symbols
        "!!!", "???", "...", "—", "–", "…", "«guillemets»", "„Anführungszeichen“", "(parentheses)", "[brackets]",
        "{braces}", "<angle>", "@user", "#hashtag", "a&b", "a|b", "a~b", "a^b", "C++", "C#", "e-mail", "a/b\\c",
        "https://example.com/path?q=1&r=2#frag", "user@example.com", "~/.bashrc", "$HOME/bin:$PATH",
        # scripts
        "Ünïcödé", "naïve café", "Ελληνικά", "Русский текст", "Українська", "עברית", "العربية", "فارسی",
        "हिन्दी", "বাংলা", "தமிழ்", "ภาษาไทย", "ລາວ", "ქართული", "Հայերեն", "አማርኛ", "日本語のテキスト", "中文文本",
        "한국어 텍스트", "Tiếng Việt", "Türkçe", "Polski", "Čeština", "Íslenska", "ǅemal", "ﬁnance", "ŉ",
        "e\u0301", "n\u0303", "\u0301alone", "A\u030a", "Å", "Å", "가", "\u1100\u1161", "ｈａｌｆｗｉｄｔｈ", "ｶﾀｶﾅ",
        # emoji
        "🦙", "🦙🦙", " 🦙", "🙂", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵🇺🇸", "❤️", "✔️", "©", "™", "1️⃣",
        "I ❤️ llamas 🦙!", "😀😃😄😁😆😅😂🤣", "🧑🏾‍💻 writes code",
        # invisible and control characters
        "\u200b", "a\u200bb", "\u200d", "\ufeffBOM", "\u00a0", "a\u00a0b", "a\u3000b", "\u2028", "a\u2029b",
        "\x0b", "a\x0bb", "\x0c", "a\x85b", "\x00", "a\x00b", "\x7f", "\x1b[31mred\x1b[0m", "\u202eRTL",
        "\ufffd", "\U0010ffff", "\ue000", "\x01\x02\x03",
        # code
        "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
        "let xs = [1, 2, 3].map { $0 * 2 }", "if a != b && c >= d || !e { }", "SELECT * FROM t WHERE id = 42;",
        "<div class=\"x\">Hi</div>", "{\"key\": [1, 2.5, null, true]}", "#include <stdio.h>",
        "    indented\n        more\n    less", "x = y if z else w  # comment", "λx.x", "fn main() -> i32 { 0 }",
        "```python\nprint('hi')\n```", "a\r\nb\r\nc", "tabs\t\tand\t\t\ttabs", "end with newline\n",
        # special tokens inside text
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nHi<|im_end|>",
        "text<|im_end|>more", " <|endoftext|> a", "<|im_start|><|im_end|>", "<|im_start|<|im_end|>",
        "<|im_start", "im_start|>", "< |im_start|>", "<|IM_START|>", "<repo_name>x<reponame>y<file_sep>",
        "<filename>a.py<gh_stars>10", "<issue_start>bug<issue_comment>ok<issue_closed>",
        "<jupyter_start><jupyter_text>t<jupyter_code>c<jupyter_output>o<jupyter_script>s<empty_output>",
        "<|endoftext|><|endoftext|>", "a<|endoftext|>b<|endoftext|>c", "<<|im_end|>>", "<|im_end|>\n\n",
        # long runs (BPE worst cases)
        "a" * 200, "ab" * 100, " " * 64, "\n" * 20, "-" * 80, "=" * 33, "🦙" * 20, "9" * 50,
        "supercalifragilisticexpialidocious", "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "antidisestablishmentarianism " * 3,
    ]


def fortunes(limit: int, rng: random.Random) -> list[str]:
    texts = []
    for category in ("computers", "science", "people", "literature", "linux", "wisdom", "art"):
        path = os.path.join(FORTUNES, category)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            texts += [t.strip("\n") for t in f.read().split("\n%\n") if t.strip()]
    if not texts:
        sys.exit("make_bpe_goldens: the Debian fortunes package is missing (apt-get install fortunes)")
    rng.shuffle(texts)
    return texts[:limit]


def code_snippets(limit: int, rng: random.Random) -> list[str]:
    """Pieces of real code with real whitespace: modules of Python's standard library (stable for a
    Python version, unlike this repository's sources, which would change the goldens with every edit)."""
    import sysconfig
    stdlib = sysconfig.get_paths()["stdlib"]
    snippets = []
    for name in ("textwrap.py", "json/encoder.py", "csv.py", "difflib.py", "heapq.py", "shlex.py"):
        with open(os.path.join(stdlib, name), encoding="utf-8") as f:
            lines = f.read().split("\n")
        for start in range(0, max(1, len(lines) - 6), 23):
            snippets.append("\n".join(lines[start:start + rng.randint(1, 6)]))
    rng.shuffle(snippets)
    return snippets[:limit]


def random_mixtures(count: int, rng: random.Random, pool: list[str]) -> list[str]:
    """Random concatenations of pieces from every category, joined by random whitespace."""
    seps = ["", " ", "  ", "\n", "\t", " \n", "\n\n", "\u00a0", "\u3000", "\r\n"]
    out = []
    for _ in range(count):
        pieces = [rng.choice(pool)[: rng.randint(1, 40)] for _ in range(rng.randint(2, 5))]
        out.append("".join(p + rng.choice(seps) for p in pieces))
    return out


def random_code_points(count: int, rng: random.Random) -> list[str]:
    """Strings of random code points from all planes (no surrogates), to reach rare categories."""
    out = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 12)):
            plane = rng.choice([0, 0, 0, 1, 2])
            cp = rng.randrange(0x10000) + plane * 0x10000
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0x41
            chars.append(chr(cp))
            if rng.random() < 0.3:
                chars.append(rng.choice(" \n\t0123456789'"))
        out.append("".join(chars))
    return out


def corpus() -> list[str]:
    rng = random.Random(20240614)
    hand = handwritten()
    prose = fortunes(420, rng)
    code = code_snippets(160, rng)
    mixed = random_mixtures(220, rng, hand + prose + code)
    noise = random_code_points(120, rng)
    strings = hand + prose + code + mixed + noise
    seen, unique = set(), []
    for s in strings:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


# MARK: - Conversations

def conversations(rng: random.Random) -> list[dict]:
    users = ["Hi!", "What is LoRA?", "Write a haiku about llamas.", "Translate 'good morning' to French.",
             "2 + 2 = ?", "Explain RoPE in one sentence.", "Привет! Как дела?", "日本語で答えてください。",
             "Tell me a joke 🦙", "   spaces around   ", "line one\nline two\n", "", "<|im_end|> inside text",
             "code:\n```\nprint(1)\n```", "Why is the sky blue?", "Summarise: " + "blah " * 20]
    assistants = ["Hello! How can I help?", "LoRA adds a low-rank update to frozen weights.",
                  "Soft wool in the wind", "Bonjour", "4", "", "Sure:\n1. one\n2. two", "🙂",
                  "RoPE rotates query/key pairs by position-dependent angles."]
    systems = ["You are a helpful assistant.", "You are a pirate. Answer like one.", "", "Réponds en français.",
               "System prompt with\nnewlines\n"]
    convs = []
    for i in range(50):
        messages = []
        if i % 3 == 0:
            messages.append({"role": "system", "content": rng.choice(systems)})
        turns = 1 + (i % 4)
        for t in range(turns):
            messages.append({"role": "user", "content": rng.choice(users)})
            if t < turns - 1 or i % 5 == 4:
                messages.append({"role": "assistant", "content": rng.choice(assistants)})
        if i == 7:
            messages = [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "ok"}]
        if i == 11:
            messages = [{"role": "user", "content": "a"}, {"role": "system", "content": "late system"}]
        if i == 13:
            messages = [{"role": "tool", "content": "{\"result\": 42}"}, {"role": "user", "content": "and?"}]
        convs.append({"messages": messages, "add_generation_prompt": i % 10 != 9})
    # (An empty conversation is refused by apply_chat_template: "Cannot apply chat template to an
    # empty conversation"; the Swift renderer refuses it too, which its tests check.)
    return convs


# MARK: - SmolLM2 goldens

def smollm2_goldens() -> None:
    from transformers import AutoTokenizer
    import transformers
    if not os.path.exists(os.path.join(MODEL_DIR, MODEL_FILE)):
        sys.exit(f"make_bpe_goldens: {MODEL_DIR}/{MODEL_FILE} is missing: run scripts/fetch_smollm2")
    tok = AutoTokenizer.from_pretrained(MODEL_DIR, gguf_file=MODEL_FILE)
    strings = corpus()
    assert len(strings) >= 1000, len(strings)
    encoded = []
    for s in strings:
        ids = tok.encode(s, add_special_tokens=True)
        assert ids == tok.encode(s, add_special_tokens=False)      # SmolLM2 adds no BOS/EOS
        encoded.append({"text": s, "ids": ids, "decoded": tok.decode(ids)})

    # Arbitrary id sequences: single ids (every byte token, partial UTF-8 included), random runs.
    rng = random.Random(7)
    vocab = len(tok)
    sequences = [[i] for i in range(0, 300)] + [[i] for i in rng.sample(range(vocab), 200)]
    sequences += [[rng.randrange(vocab) for _ in range(rng.randint(2, 12))] for _ in range(200)]
    sequences += [[rng.choice([0, 1, 2, 5, 16]) if rng.random() < 0.3 else rng.randrange(17, 300)
                   for _ in range(rng.randint(2, 10))] for _ in range(100)]
    decoded = [{"ids": ids, "text": tok.decode(ids), "skip_special": tok.decode(ids, skip_special_tokens=True)}
               for ids in sequences]

    chats = []
    for conv in conversations(random.Random(11)):
        for name, template in (("gguf", None), ("chatml", PLAIN_CHATML)):
            text = tok.apply_chat_template(conv["messages"], tokenize=False,
                                           add_generation_prompt=conv["add_generation_prompt"],
                                           chat_template=template)
            chats.append({"template": name, "messages": conv["messages"],
                          "add_generation_prompt": conv["add_generation_prompt"], "rendered": text,
                          "ids": tok.encode(text)})

    special = {"bos": tok.bos_token_id, "eos": tok.eos_token_id, "unk": tok.unk_token_id, "pad": tok.pad_token_id,
               "all_special_ids": sorted(tok.all_special_ids), "vocabulary_size": len(tok)}
    write("smollm2_tokenizer_goldens.json", {
        "transformers": transformers.__version__, "model": MODEL_FILE, "chat_template_plain": PLAIN_CHATML,
        "special": special, "encode": encoded, "decode": decoded, "chat": chats,
    })
    print(f"smollm2: {len(encoded)} strings, {len(decoded)} id sequences, {len(chats)} rendered conversations")


# MARK: - Unicode classes

def unicode_classes() -> None:
    from tokenizers import Regex, pre_tokenizers
    code_points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]

    def matched(pattern: str) -> list[list[int]]:
        split = pre_tokenizers.Split(Regex(pattern), behavior="removed")
        hits = set(code_points)
        for i in range(0, len(code_points), 8192):
            part = code_points[i:i + 8192]
            for text, _ in split.pre_tokenize_str("".join(map(chr, part))):
                hits.difference_update(map(ord, text))
        ranges, start, prev = [], None, None
        for c in sorted(hits):
            if start is None:
                start = prev = c
            elif c == prev + 1:
                prev = c
            else:
                ranges.append([start, prev])
                start = prev = c
        if start is not None:
            ranges.append([start, prev])
        return ranges

    classes = {name: matched(p) for name, p in (("s", r"\s"), ("L", r"\p{L}"), ("N", r"\p{N}"))}
    import tokenizers
    write("unicode_classes.json", {"tokenizers": tokenizers.__version__, "unicode_python": unicodedata.unidata_version,
                                   "classes": classes})
    print("unicode classes:", {k: sum(b - a + 1 for a, b in v) for k, v in classes.items()})


# MARK: - Small tokenizer.json fixtures

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def small_tokenizers() -> None:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    rng = random.Random(3)
    training = fortunes(3000, rng) + code_snippets(400, rng)
    strings = corpus()

    def build(name: str, *, split: bool) -> None:
        tok = Tokenizer(models.BPE(ignore_merges=split))
        if split:
            tok.normalizer = normalizers.NFC()
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
            specials = ["<|begin_of_text|>", "<|end_of_text|>"]
        else:
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
            specials = ["<s>", "</s>", "<pad>"]
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=1500, min_frequency=2, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(training, trainer)
        if split:
            tok.post_processor = processors.Sequence([
                processors.ByteLevel(trim_offsets=False),
                processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                              special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])])
            tok.add_special_tokens([AddedToken("<|eot_id|>", special=True, normalized=False),
                                    AddedToken("<|tool|>", special=True, lstrip=True, rstrip=True)])
            tok.add_tokens([AddedToken("Café", normalized=True), AddedToken("the dog", normalized=False)])
        else:
            tok.post_processor = processors.TemplateProcessing(
                single="<s> $A </s>", pair="<s> $A </s> $B </s>",
                special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
            tok.add_special_tokens([AddedToken("<|user|>", special=True, lstrip=True, rstrip=True, normalized=False),
                                    AddedToken("[MASK]", special=True, single_word=True, normalized=False)])
            tok.add_tokens([AddedToken("hello world", normalized=True), AddedToken("<tag>", normalized=False),
                            AddedToken("<tagged>", normalized=False)])
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        tok.save(os.path.join(folder, "tokenizer.json"), pretty=False)
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        extra = ["x <|user|> y", "x<|user|>y", " [MASK] ", "a[MASK]b", "[MASK]", "[MASK]s", "say hello world!",
                 "hello worlds", "<tag><tagged>", "<tagg", "Cafe\u0301 au lait", "Café", "the dog barks",
                 "x <|tool|>  y", "<|eot_id|><|begin_of_text|>", "HELLO'S WORLD'LL", "<s>inner</s>"]
        rows = []
        for s in strings + extra:
            with_special = tok.encode(s, add_special_tokens=True).ids
            without = tok.encode(s, add_special_tokens=False).ids
            rows.append({"text": s, "ids": with_special, "ids_without_special": without,
                         "decoded": tok.decode(without, skip_special_tokens=False),
                         "decoded_skipping_special": tok.decode(with_special, skip_special_tokens=True)})
        write(os.path.join(name, "goldens.json"), {"vocabulary_size": tok.get_vocab_size(with_added_tokens=True),
                                                   "encode": rows})
        print(f"{name}: vocabulary {tok.get_vocab_size(with_added_tokens=True)}, {len(rows)} strings")

    build("bpe_bytelevel", split=False)
    build("bpe_split", split=True)


# MARK: - A small GGUF that is not SmolLM2's

def tokenizer_gguf(path: str, tokens: list, types: list, merges: list, *, model: str = "gpt2",
                   pre: str | None = "llama-bpe", add_bos: bool = True, with_merges: bool = True) -> None:
    """A GGUF with only a tokenizer (and the llama keys transformers wants to read a config)."""
    import gguf
    import numpy as np
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_block_count(1); w.add_context_length(64); w.add_embedding_length(4); w.add_feed_forward_length(8)
    w.add_head_count(1); w.add_head_count_kv(1); w.add_layer_norm_rms_eps(1e-5); w.add_vocab_size(len(tokens))
    w.add_rope_dimension_count(4)
    w.add_tokenizer_model(model)
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if with_merges:
        w.add_token_merges(merges)
    w.add_bos_token_id(0); w.add_eos_token_id(1); w.add_add_bos_token(add_bos)
    w.add_tensor("output_norm.weight", np.ones(4, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


def small_gguf() -> None:
    """The bpe_split vocabulary as a GGUF with `tokenizer.ggml.pre = llama-bpe` and add_bos_token,
    USER_DEFINED tokens (one in the byte alphabet, one with a space, which transformers does not
    add), a CONTROL token outside the alphabet (which it leaves out), and the ids `transformers`
    gives loading it (AutoTokenizer.from_pretrained(dir, gguf_file=...)). Plus malformed variants."""
    from transformers import AutoTokenizer
    source = json.load(open(os.path.join(OUT, "bpe_split", "tokenizer.json"), encoding="utf-8"))
    vocab = source["model"]["vocab"]
    tokens = [None] * (max(vocab.values()) + 1)
    for token, index in vocab.items():
        tokens[index] = token
    types = [1] * len(tokens)
    for added in source["added_tokens"]:
        kind = 3 if added["special"] else 4
        if added["id"] < len(tokens):
            types[added["id"]] = kind
        else:
            assert added["id"] == len(tokens)
            tokens.append(added["content"])
            types.append(kind)
    tokens += ["hello there", "<|ctl ☃|>"]
    types += [4, 3]
    merges = [" ".join(m) for m in source["model"]["merges"]]
    folder = os.path.join(OUT, "gguf_llama_bpe")
    os.makedirs(folder, exist_ok=True)
    tokenizer_gguf(os.path.join(folder, "tokenizer.gguf"), tokens, types, merges)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file="tokenizer.gguf")
    rows = []
    for s in corpus() + ["hello there", "<|ctl ☃|>", "Café", "the dog", "<|eot_id|>x", "x <|tool|>  y"]:
        ids = tok.encode(s, add_special_tokens=True)
        without = tok.encode(s, add_special_tokens=False)
        rows.append({"text": s, "ids": ids, "ids_without_special": without, "decoded": tok.decode(without),
                     "decoded_skipping_special": tok.decode(ids, skip_special_tokens=True)})
    write(os.path.join("gguf_llama_bpe", "goldens.json"), {"vocabulary_size": len(tok), "bos": tok.bos_token_id,
                                                           "eos": tok.eos_token_id, "encode": rows})
    print(f"gguf_llama_bpe: vocabulary {len(tok)}, {len(rows)} strings")

    # Malformed or unsupported: a byte vocabulary and one merge each.
    byte_tokens = [chr(c) for c in sorted(set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100)))]
    byte_tokens += [chr(0x100 + i) for i in range(256 - len(byte_tokens))] + ["ab"]
    byte_types = [1] * len(byte_tokens)
    errors = os.path.join(OUT, "gguf_errors")
    os.makedirs(errors, exist_ok=True)
    tokenizer_gguf(os.path.join(errors, "llama_model.gguf"), byte_tokens, byte_types, ["a b"], model="llama")
    tokenizer_gguf(os.path.join(errors, "unknown_pre.gguf"), byte_tokens, byte_types, ["a b"], pre="qwen2")
    tokenizer_gguf(os.path.join(errors, "missing_merges.gguf"), byte_tokens, byte_types, [], with_merges=False)
    tokenizer_gguf(os.path.join(errors, "bad_merge.gguf"), byte_tokens, byte_types, ["a b", "a zz"])
    tokenizer_gguf(os.path.join(errors, "type_count.gguf"), byte_tokens, byte_types[:-1], ["a b"])
    tokenizer_gguf(os.path.join(errors, "valid.gguf"), byte_tokens, byte_types, ["a b"], pre=None, add_bos=False)


def write(name: str, obj) -> None:
    path = os.path.join(OUT, name)
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # Foundation's JSONSerialization on Linux drops a raw U+FEFF that starts a string value; escaped, it stays.
    text = text.replace("\ufeff", "\\ufeff")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    unicode_classes()
    small_tokenizers()
    small_gguf()
    smollm2_goldens()
    for dirpath, _, files in os.walk(OUT):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            print(f"{os.path.getsize(p):>9}  {os.path.relpath(p, OUT)}")


if __name__ == "__main__":
    main()
