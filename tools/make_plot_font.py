#!/usr/bin/python3
"""Make the font the `asd` command draws its pictures with: Asd.Cli/Plotting/Fonts/.

The pictures (ScottPlot on SkiaSharp) must show their text on any machine, including a board or a container with
no fonts installed, where SkiaSharp would silently draw none. So the executable embeds its own font: DejaVu Sans
(regular and bold, Debian's fonts-dejavu-core, Bitstream Vera licence, which allows redistribution and
modification; its text is written beside the fonts as LICENSE.txt), cut down to the characters the plots use
(printable ASCII, Latin-1 and a few symbols), about 50 KB each instead of 750 KB.

Needs Debian's fonts-dejavu-core and python3-fonttools. Output bytes depend on the fontTools version (4.38 here);
the committed files are what the tests and the published executable use, so rerun this only to change the set.

Usage: /usr/bin/python3 tools/make_plot_font.py [--out DIR]
"""
import argparse
import gzip
import os
import sys

from fontTools import subset

SOURCE = "/usr/share/fonts/truetype/dejavu"
FACES = {"DejaVuSans.ttf": "asd-sans.ttf", "DejaVuSans-Bold.ttf": "asd-sans-bold.ttf"}
# Printable ASCII, Latin-1, en/em dash, minus, <=, >=, ellipsis, Greek small letters (sigma, tau, ...), times.
UNICODES = [*range(0x20, 0x7F), *range(0xA0, 0x100), 0x2013, 0x2014, 0x2026, 0x2212, 0x2264, 0x2265, *range(0x3B1, 0x3CA)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Asd.Cli", "Plotting", "Fonts"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for source, target in FACES.items():
        options = subset.Options()
        options.layout_features = ["kern"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        font = subset.load_font(os.path.join(SOURCE, source), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=UNICODES)
        subsetter.subset(font)
        path = os.path.join(args.out, target)
        subset.save_font(font, path, options)
        print(f"{path}: {os.path.getsize(path)} bytes")
    copyright_file = "/usr/share/doc/fonts-dejavu-core/copyright"
    opener = gzip.open if copyright_file.endswith(".gz") else open
    with opener(copyright_file, "rt", encoding="utf-8") as f:
        text = f.read()
    # Only the fonts' own stanza (the Debian packaging stanza is about the package, not the fonts).
    fonts_stanza = text.split("\nFiles: debian/*")[0]
    with open(os.path.join(args.out, "LICENSE.txt"), "w", encoding="utf-8") as f:
        f.write("asd-sans.ttf and asd-sans-bold.ttf are DejaVu Sans and DejaVu Sans Bold (fonts-dejavu-core 2.37),\n")
        f.write("cut down to the characters asd's plots use by tools/make_plot_font.py. Their licence:\n\n")
        f.write(fonts_stanza.strip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
