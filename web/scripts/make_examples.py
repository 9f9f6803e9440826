"""Regenerate web/public/examples/: one small real photo per breed for the Generate page.

Source: tests/fixtures/oxford-mini (Oxford-IIIT Pet, CC BY-SA 4.0). Centre-cropped square,
96 px, JPEG quality 85. Run from the repo root: .venv/bin/python web/scripts/make_examples.py
"""

from pathlib import Path

from PIL import Image

PICKS = {
    "abyssinian": "Abyssinian_10", "bengal": "Bengal_11", "birman": "Birman_12",
    "bombay": "Bombay_12", "british_shorthair": "British_Shorthair_16",
    "egyptian_mau": "Egyptian_Mau_11", "maine_coon": "Maine_Coon_2", "persian": "Persian_10",
    "ragdoll": "Ragdoll_2", "russian_blue": "Russian_Blue_12", "siamese": "Siamese_17",
    "sphynx": "Sphynx_12",
}
SRC = Path("tests/fixtures/oxford-mini/images")
DST = Path("web/public/examples")
SIZE = 96

DST.mkdir(parents=True, exist_ok=True)
for key, stem in PICKS.items():
    im = Image.open(SRC / f"{stem}.jpg").convert("RGB")
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    im.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(DST / f"{key}.jpg", quality=85)
    print(key, stem)

# "any cat": a 2x2 mosaic of four of the breeds above
tiles = ["maine_coon", "siamese", "bengal", "russian_blue"]
mosaic = Image.new("RGB", (SIZE, SIZE))
for i, key in enumerate(tiles):
    t = Image.open(DST / f"{key}.jpg").resize((SIZE // 2, SIZE // 2), Image.Resampling.LANCZOS)
    mosaic.paste(t, ((i % 2) * SIZE // 2, (i // 2) * SIZE // 2))
mosaic.save(DST / "any_cat.jpg", quality=85)
print("any_cat", "mosaic of", ", ".join(tiles))
