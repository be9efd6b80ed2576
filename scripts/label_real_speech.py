#!/usr/bin/env python3
"""Speech labels for real recordings, by forced alignment with CMU PocketSphinx: the 10 transcribed
16 kHz recordings of Debian's pocketsphinx-testdata (5 LibriVox clips of "Sense and Sensibility",
5 CMU card-game utterances). Each transcript becomes a JSGF grammar that accepts exactly its words
(optional silences between them), `pocketsphinx_continuous -jsgf … -time yes` aligns it, and every
512-sample chunk (Silero VAD's step) is labelled speech when at least half of it lies inside an
aligned word. Writes JSON lines {"path", "labels", "text", "words": [[word, start, end], …]} for
`lorakit data vad --from FILE`, which places them in clips and adds a condition.

Needs Debian's pocketsphinx, pocketsphinx-en-us and pocketsphinx-testdata (apt-get install -y …);
the tests do not need it (its output is data, not a fixture).
Usage: scripts/label_real_speech.py OUT.jsonl"""
import json, os, re, subprocess, sys, tempfile, wave

DATA = "/usr/share/pocketsphinx/test/data"
SETS = [("cards", "cards/cards.transcription"), ("librivox", "librivox/transcription")]
CHUNK = 512
SKIP = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]"}

def align(path, words):
    with tempfile.NamedTemporaryFile("w", suffix=".jsgf", delete=False) as g:
        g.write("#JSGF V1.0;\ngrammar utterance;\npublic <utterance> = " + " ".join(words) + ";\n")
    try:
        out = subprocess.run(["pocketsphinx_continuous", "-infile", path, "-jsgf", g.name, "-time", "yes",
                              "-logfn", "/dev/null"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(g.name)
    segments = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 4 and re.fullmatch(r"[0-9.]+", fields[1]):
            word = re.sub(r"\(\d+\)$", "", fields[0])
            if word not in SKIP and not word.startswith("++"):
                segments.append([word, float(fields[1]), float(fields[2]) + 0.01])   # end of the last 10 ms frame
    return segments

def main():
    out = sys.argv[1]
    lines = []
    for folder, transcription in SETS:
        for line in open(os.path.join(DATA, transcription)):
            m = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
            words, name = m.group(1).split(), m.group(2)
            path = os.path.join(DATA, folder, name + ".wav")
            with wave.open(path) as w:
                assert w.getframerate() == 16000, path
                frames = w.getnframes()
            segments = align(path, words)
            aligned = [s[0] for s in segments]
            if aligned != words:
                print(f"{name}: alignment gave {aligned}, transcript {words}", file=sys.stderr)
            chunks = (frames + CHUNK - 1) // CHUNK
            labels = []
            for c in range(chunks):
                lo, hi = c * CHUNK / 16000, min((c + 1) * CHUNK, frames) / 16000
                inside = sum(max(0.0, min(hi, e) - max(lo, s)) for _, s, e in segments)
                labels.append(1 if inside >= 0.5 * (hi - lo) else 0)
            lines.append(json.dumps({"path": path, "labels": labels, "text": " ".join(words), "words": segments}))
            print(f"{name}: {frames / 16000:.2f} s, {len(segments)} words, {sum(labels)} of {chunks} chunks speech", file=sys.stderr)
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(out + ".tmp", out)

if __name__ == "__main__":
    main()
