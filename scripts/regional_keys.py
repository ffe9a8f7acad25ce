#!/usr/bin/env python3
"""Writes src/text/regional_keys.txt: every phrase or character that OpenCC's Taiwan and Hong
Kong dictionaries convert (their keys and values, as written and with Traditional characters
mapped to Simplified by TSCharacters), one per line. A query term holding none of them has no
regional variant, so `text::regional` answers it without building OpenCC's converters (about
5 ms a process). tests in src/text/regional.rs check the gate against the converters.

Usage: python3 scripts/regional_keys.py [OPENCC_DICTIONARY_FOLDER]
(default: ferrous-opencc's assets/dictionaries in the cargo registry)."""
import glob
import os
import sys

# TSPhrases too: where Traditional→Simplified depends on the phrase (藉助 → 借助, 藉 alone
# stays), a term's windows normalise differently from the whole, which reads as a variant.
REGIONAL = ["TWPhrases", "TWPhrasesRev", "TWVariants", "TWVariantsRev", "TWVariantsRevPhrases",
            "HKVariants", "HKVariantsRev", "HKVariantsRevPhrases", "TSPhrases"]


def entries(folder, name):
    with open(os.path.join(folder, name + ".txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or "\t" not in line:
                continue
            key, values = line.rstrip("\n").split("\t", 1)
            yield key, values.split()


def main():
    if len(sys.argv) > 1:
        folder = sys.argv[1]
    else:
        home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
        found = sorted(glob.glob(os.path.join(
            home, "registry/src/*/ferrous-opencc-0.4.*/assets/dictionaries")))
        if not found:
            sys.exit("regional_keys.py: ferrous-opencc's dictionaries not found: pass their folder")
        folder = found[-1]
    ts = {k: v[0] for k, v in entries(folder, "TSCharacters")}
    simplified = lambda s: "".join(ts.get(c, c) for c in s)
    keys = set()
    for name in REGIONAL:
        for key, values in entries(folder, name):
            for s in [key, *values]:
                keys.update({s, simplified(s)})
    # Simplified→Traditional entries that Traditional→Simplified does not undo (昵 → 暱, which
    # stays 暱): the Taiwan and Hong Kong chains start with that conversion.
    for name in ["STCharacters", "STPhrases"]:
        for key, values in entries(folder, name):
            if any(simplified(v) != key for v in values):
                keys.update({key, *values, *(simplified(v) for v in values)})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "src/text/regional_keys.txt"), "w", encoding="utf-8") as f:
        f.write("".join(k + "\n" for k in sorted(keys)))
    print(f"{len(keys)} keys from {folder}")


if __name__ == "__main__":
    main()
