"""A CJK test font made at test time, so that the PDF tests need no font from the machine.

Text extraction reads a PDF's font dictionaries (character codes, widths, the ToUnicode map),
never the glyph outlines, so a font whose every glyph is a plain box gives PDFs with a real
text layer, laid out like those made with a CJK system font (CJK 1 em wide, Latin half). The
font covers ASCII, Latin-1, general punctuation and the symbol blocks after it (≥ ≤ ① ★ …), CJK
punctuation, kana, CJK Unified Ideographs with extension A, and the full-width forms: any text
of a disclosure; or, given a text, ASCII and that text's characters, which fpdf2 loads far
quicker (it parses the whole font for each PDF). It is made with fontTools (a dependency of
fpdf2) in two builds:

- ``"glyf"``: TrueType outlines, which fpdf2 embeds as a CIDFontType2 that pdfminer reads;
- ``"cff"``: CFF outlines (like Noto Sans CJK), which fpdf2 embeds as a CIDFontType0 with an
  embedded encoding CMap that pdfminer does not read (0 characters) but pdfium does.

Built once per process and text (a second or two for the full font) and written to a temporary file.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

FAMILY = "BudgetNLP Test CJK"
RANGES = (
    (0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x2BFF), (0x3000, 0x30FF), (0x3200, 0x33FF), (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
)
UNITS = 1000


def _advance(code: int) -> int:
    return 500 if code < 0x2000 else 1000


@lru_cache(maxsize=None)
def cjk_font(outlines: str = "glyf", text: str = "") -> Path:
    """Path of the test font with ``outlines`` "glyf" (TrueType) or "cff" (OpenType CFF), covering
    ``RANGES``, or only ASCII and the characters of ``text`` when given (quicker to build)."""
    from fontTools.fontBuilder import FontBuilder

    if text:
        codes = sorted(set(range(0x20, 0x7F)) | {ord(c) for c in text if ord(c) > 0x7E})
    else:
        codes = [code for first, last in RANGES for code in range(first, last + 1)]
    glyphs = {code: f"cid{number:05d}" for number, code in enumerate(codes, 1)}  # CID-keyed CFF's names
    names = [".notdef", *glyphs.values()]
    metrics = {".notdef": (500, 0), **{glyphs[code]: (_advance(code), 0) for code in codes}}
    builder = FontBuilder(UNITS, isTTF=outlines == "glyf")
    builder.font.recalcBBoxes = False  # every glyph is the same box: bounds set below, not computed
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap(glyphs)
    if outlines == "glyf":
        boxes = {width: _box_glyph(width) for width in (500, 1000)}  # shared: one outline per width
        builder.setupGlyf({name: boxes[metrics[name][0]] for name in names})
    else:
        from fontTools.cffLib.CFF2ToCFF import convertCFF2ToCFF
        from fontTools.ttLib import TTFont

        # built as CFF2 and converted: with two font dicts the result is CID-keyed, as Noto CJK's
        builder.setupCFF2({name: _box_charstring() for name in names}, fdArrayList=[{}, {}])
    builder.setupHorizontalMetrics(metrics)
    builder.setupHorizontalHeader(ascent=880, descent=-120, advanceWidthMax=1000, xMaxExtent=900)
    builder.updateHead(xMin=50, yMin=-60, xMax=900, yMax=760)
    builder.setupNameTable({"familyName": FAMILY, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120,
                     ulCodePageRange1=1 << 18, ulUnicodeRange2=(1 << 27) | (1 << 16))  # GB2312, CJK ideographs
    builder.setupPost()
    suffix = ".ttf" if outlines == "glyf" else ".otf"
    path = Path(tempfile.mkdtemp(prefix="budgetnlp-font-")) / f"test-cjk-{outlines}{suffix}"
    builder.save(str(path))
    if outlines != "glyf":
        font = TTFont(str(path), recalcBBoxes=False)
        convertCFF2ToCFF(font)
        font.save(str(path))
    return path


def _box_glyph(width: int):
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    pen = TTGlyphPen(None)
    _box(pen, width)
    return pen.glyph()


def _box_charstring():
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    pen = T2CharStringPen(None, None, CFF2=True)
    _box(pen, 1000)
    return pen.getCharString()


def _box(pen, width: int) -> None:
    margin = width // 10
    pen.moveTo((margin, -60))
    pen.lineTo((margin, 760))
    pen.lineTo((width - margin, 760))
    pen.lineTo((width - margin, -60))
    pen.closePath()
