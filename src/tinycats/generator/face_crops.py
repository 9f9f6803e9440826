"""Cat-face crops of the Oxford cats: each breed photo cut to a square around the cat's face, for
the generator (``data.crop: face`` in a generator recipe; generator/crops.py).

Why: the generator renders recognisable faces for the 15,747 aligned ``any_cat`` faces but blobs
for the breed classes, whose photos put the cat anywhere at any scale. Faces found by OpenCV's
frontal cat-face detector (a Haar cascade shipped inside ``opencv-python-headless``, so nothing is
downloaded) give breed-labeled images framed like those faces. Measured on this data
(docs/decisions/0005): the detector finds a face in 54% of the 2,371 Oxford cat photos (36-73%
per breed); on the 123 with a face among the photos that have an Oxford head box, 91% of the
detections lie at least 80% inside the head box (boxes scaled to the re-encoded photos); and the
shipped classifier still knows the breed on 64 px crops of ``margin`` x the face box (the 631
test cats with a face: 70.3% at margin 1.2, 77.8% at 1.5, 81.7% at 1.8, 83.1% at 2.2; it is
80.1% on the centre-cropped test cats at 64 px).

Where the detector finds no face but Oxford has a head box (trainval Abyssinian and Bengal photos:
74 more crops, 29 and 45, for two of the weakest breeds), the head box stands in, converted to
the detector's framing (``head_box_faces``); the detector keeps priority so that existing crops
do not move. Photos with neither are left out of the face set (the count per breed is logged and
lands in the report). The detections are computed once from the original photos (about 5
minutes on 2 cores, measured) and kept, with the crops, next to the Oxford cache:
``<data>/cache/oxford/faces-detections.json`` and ``faces-m<margin>-s<size>/``, rebuilt when the
photos or the parameters change.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import shutil
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tinycats.breeds import NUM_BREEDS
from tinycats.data import cache
from tinycats.data.images import BadImageError, open_rgb
from tinycats.errors import TinycatsError

DETECTOR_VERSION = 1
#: the detector's parameters (measured on the Oxford cats, docs/decisions/0005): photos are scaled
#: to at most DETECT_SIDE px for speed; a smaller scale step and fewer neighbours find more faces
#: at the cost of more false hits
DETECT_SIDE = 400
SCALE_FACTOR = 1.05
MIN_NEIGHBORS = 3
MIN_FACE = 30
#: the cascades tried in order: the "extended" one first, the plain one where it finds nothing
CASCADES = ("haarcascade_frontalcatface_extended.xml", "haarcascade_frontalcatface.xml")

#: Oxford head boxes (annotations/xmls: trainval Abyssinian and Bengal photos only) stand in where
#: the detector finds no face, converted to the detector's framing by the median relation on the
#: 123 photos that have both (measured with the boxes scaled to the photos): the face box's
#: side is the head box's longer side / 1.39 (quartiles 1.29-1.53), its centre 0.17 head sides
#: below the head box's centre (ears are in the head box, not in the face box), none sideways.
HEAD_TO_FACE_SIDE = 1.39
HEAD_TO_FACE_DROP = 0.17

Box = tuple[int, int, int, int]  # x, y, w, h in the photo's pixels
#: bumped when the way views are drawn changes (``view_square``), so kept views are cut again
VIEWS_VERSION = 1


class FaceCropError(TinycatsError):
    pass


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise FaceCropError("face crops need OpenCV's cat-face detector: pip install "
                            "'opencv-python-headless<5' (part of tinycats[train]; OpenCV 5 "
                            "no longer ships the Haar cascades)") from None
    return cv2


_detectors: list[Any] = []


def _load_detectors() -> list[Any]:
    if not _detectors:
        cv2 = _cv2()
        for name in CASCADES:
            path = os.path.join(cv2.data.haarcascades, name)
            det = cv2.CascadeClassifier(path)
            if det.empty():
                raise FaceCropError(f"OpenCV's cat-face cascade {path} is missing or unreadable "
                                    f"(install 'opencv-python-headless<5')")
            _detectors.append(det)
    return _detectors


def detect_face(image: np.ndarray) -> Box | None:
    """The largest cat face the detector finds in ``image`` (H, W, 3) uint8 RGB, or None."""
    cv2 = _cv2()
    gray = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY))
    s = min(1.0, DETECT_SIDE / max(gray.shape))
    small = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else gray
    for det in _load_detectors():
        found = det.detectMultiScale(small, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS,
                                     minSize=(MIN_FACE, MIN_FACE))
        if len(found):
            x, y, w, h = max(found, key=lambda r: int(r[2]) * int(r[3]))
            return int(x / s), int(y / s), int(w / s), int(h / s)
    return None


def face_square(image_size: tuple[int, int], box: Box, margin: float) -> Box:
    """The square (x, y, side, side) of ``margin`` x the face box's side around its centre,
    shrunk to fit and shifted to stay inside an image of ``image_size`` (W, H)."""
    if margin <= 0:
        raise FaceCropError(f"face margin must be positive, not {margin}")
    width, height = image_size
    x, y, w, h = box
    side = max(1, min(round(max(w, h) * margin), width, height))
    x0 = int(np.clip(round(x + w / 2 - side / 2), 0, width - side))
    y0 = int(np.clip(round(y + h / 2 - side / 2), 0, height - side))
    return x0, y0, side, side


def cut_square(im: Image.Image, square: Box, size: int) -> np.ndarray:
    x0, y0, side, _ = square
    return np.asarray(im.crop((x0, y0, x0 + side, y0 + side)).resize(
        (size, size), Image.Resampling.BICUBIC))


def face_crop(im: Image.Image, box: Box, margin: float, size: int) -> np.ndarray:
    return cut_square(im, face_square(im.size, box, margin), size)


def view_square(image_size: tuple[int, int], box: Box, margin: float, name: str, view: int,
                zoom: float, shift: float) -> Box:
    """The square of view ``view`` of a photo's face crop. View 0 is the face crop itself; the
    others scale its margin by a factor between 1 / (1 + zoom) and 1 + zoom (log-uniform) and
    move its centre by up to ``shift`` x its side each way, drawn from (name, view) so that every
    machine cuts the same views."""
    if view == 0:
        return face_square(image_size, box, margin)
    rng = np.random.default_rng([zlib.crc32(name.encode()), view])
    m = margin * math.exp(rng.uniform(-1, 1) * math.log1p(zoom))
    x, y, w, h = box
    dx, dy = rng.uniform(-shift, shift, 2) * max(w, h) * m
    return face_square(image_size, (round(x + dx), round(y + dy), w, h), m)


def _detect_file(path: str) -> Box | None:
    try:
        return detect_face(np.asarray(open_rgb(path)))
    except BadImageError:
        return None


def _one_thread() -> None:
    # one process per core: OpenCV's own threads would only fight over the same cores
    _cv2().setNumThreads(1)


def detect_files(paths: Sequence[Path], workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> list[Box | None]:
    """``detect_face`` on every file (over ``workers`` processes); an unreadable file: None."""
    workers = workers or min(len(paths), os.cpu_count() or 1) or 1
    out: list[Box | None] = []
    if workers == 1:
        for p in paths:
            out.append(_detect_file(str(p)))
            if progress:
                progress(len(out), len(paths))
        return out
    # spawned, not forked: a fork of a process whose OpenCV or torch thread pools have started
    # can hang in the child
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_one_thread) as ex:
        for box in ex.map(_detect_file, [str(p) for p in paths], chunksize=8):
            out.append(box)
            if progress:
                progress(len(out), len(paths))
    return out


def _oxford_source(root: Path) -> tuple[dict[str, Any], Path]:
    man_path = cache.cache_path(root, "oxford", 64).parent
    mans = sorted(man_path.glob("s*/manifest.json"))
    if not mans:
        raise FaceCropError(f"no prepared Oxford cache under {man_path}; run: tinycats data "
                            f"prepare --size 64")
    man = json.loads(mans[0].read_text())
    return man, Path(man["source_path"])


def _cat_photos(root: Path) -> list[tuple[str, Path]]:
    """(name, original photo) of every Oxford cat in the prepared cache (every size lists the
    same names)."""
    man, src = _oxford_source(root)
    cdir = cache.cache_path(root, "oxford", int(man["size"]))
    names = json.loads((cdir / "names.json").read_text())
    labels = np.load(cdir / "labels.npy")
    return [(n, src / "images" / f"{n}.jpg") for n, lab in zip(names, labels, strict=True)
            if lab < NUM_BREEDS]


def _detections_file(root: Path, photos: list[tuple[str, Path]]) -> tuple[Path, str]:
    """Where the detections are kept, and the fingerprint they must carry: the detector's
    parameters and the photos themselves (name and contents), not one cache's fingerprint, so
    preparing another cache size does not make them stale."""
    stats = [(n, cache.content_stamp(p)) for n, p in photos]
    key = hashlib.sha256(json.dumps(
        [DETECTOR_VERSION, DETECT_SIDE, SCALE_FACTOR, MIN_NEIGHBORS, MIN_FACE, CASCADES,
         stats]).encode()).hexdigest()[:16]
    return cache.cache_path(root, "oxford", 64).with_name("faces-detections.json"), key


def cached_detections(root: Path) -> dict[str, Box | None] | None:
    """The kept detections if they are current, else None (missing, stale or damaged)."""
    out, key = _detections_file(root, _cat_photos(root))
    if not out.exists():
        return None
    try:
        d = json.loads(out.read_text())
        if d.get("fingerprint") == key:
            return {k: None if v is None else tuple(v) for k, v in d["boxes"].items()}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    return None


def load_detections(root: Path, *, log: Callable[[str], None] = print,
                    progress: Callable[[int, int], None] | None = None
                    ) -> dict[str, Box | None]:
    """Oxford cat name -> its face box (or None), computed once from the original photos."""
    have = cached_detections(root)
    if have is not None:
        return have
    photos = _cat_photos(root)
    out, key = _detections_file(root, photos)
    cats = [n for n, _ in photos]
    paths = [p for _, p in photos]
    _, src = _oxford_source(root)
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise FaceCropError(f"face detection reads the original Oxford photos, but {len(missing)} "
                            f"are missing under {src / 'images'} (e.g. {missing[0].name}); run "
                            f"tinycats data fetch again")
    log(f"detecting cat faces in {len(paths)} Oxford photos (once; kept in {out})")
    boxes = detect_files(paths, progress=progress)
    found = dict(zip(cats, boxes, strict=True))
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": key, "boxes": found}) + "\n")
    os.replace(tmp, out)
    return found


def oxford_head_box(src: Path, name: str) -> tuple[float, float, float, float] | None:
    """The photo's Oxford head box (x0, y0, x1, y1) in the pixels of the photo under
    ``src/images``, or None (no annotation, or a damaged one). The xml's coordinates are in the
    pixels of the original photo (its <size>); the photos here may be re-encoded smaller, so they
    are scaled to the photo's actual size."""
    x = src / "annotations" / "xmls" / f"{name}.xml"
    photo = src / "images" / f"{name}.jpg"
    if not x.exists() or not photo.exists():
        return None
    try:
        root = ET.parse(x).getroot()
        box = root.find("object/bndbox")
        size_w, size_h = (float(root.findtext(f"size/{k}") or 0) for k in ("width", "height"))
        if box is None or size_w <= 0 or size_h <= 0:
            return None
        x0, y0, x1, y1 = (float(box.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
        with Image.open(photo) as im:
            w, h = im.size
    except (ET.ParseError, ValueError, OSError):
        return None  # a damaged annotation or photo: no head box, as if it had none
    sx, sy = w / size_w, h / size_h
    x0, x1, y0, y1 = x0 * sx, x1 * sx, y0 * sy, y1 * sy
    return (x0, y0, x1, y1) if 0 <= x0 < x1 and 0 <= y0 < y1 else None


def head_box_faces(src: Path, names: Iterable[str]) -> dict[str, Box]:
    """Name -> a face box derived from the photo's Oxford head box (``oxford_head_box``), for
    those of ``names`` that have one, in the detector's framing (``HEAD_TO_FACE_*``)."""
    out: dict[str, Box] = {}
    for name in names:
        hb = oxford_head_box(src, name)
        if hb is None:
            continue
        x0, y0, x1, y1 = hb
        head = max(x1 - x0, y1 - y0)
        side = max(1, round(head / HEAD_TO_FACE_SIDE))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + HEAD_TO_FACE_DROP * head
        out[name] = (round(cx - side / 2), round(cy - side / 2), side, side)
    return out


def crop_path(root: Path, size: int, margin: float) -> Path:
    return cache.cache_path(root, "oxford", size).with_name(f"faces-m{margin:g}-s{size}")


def face_boxes(root: Path, *, log: Callable[[str], None] = print,
               progress: Callable[[int, int], None] | None = None
               ) -> tuple[dict[str, Box | None], int]:
    """Oxford cat name -> the box its crops are cut around: the detected face, or failing that
    the Oxford head box converted to the detector's framing (``head_box_faces``), or None; and
    how many are head boxes."""
    detected = load_detections(root, log=log, progress=progress)
    _, src = _oxford_source(root)
    heads = head_box_faces(src, [n for n, b in detected.items() if b is None])
    return {n: b if b is not None else heads.get(n) for n, b in detected.items()}, len(heads)


def _cached_array(out: Path, key: str) -> np.ndarray | None:
    meta_path = out / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("fingerprint") == key:
        return np.load(out / "images.npy")
    return None


def _save_array(out: Path, images: np.ndarray, meta: dict[str, Any]) -> None:
    """``out``/images.npy and meta.json, replaced as a whole (written beside, then renamed)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "images.npy", images)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def load_face_crops(root: Path, size: int, margin: float, *,
                    log: Callable[[str], None] = print,
                    progress: Callable[[int, int], None] | None = None) -> cache.CachedSet:
    """The Oxford cats (every split) whose photo has a detected face, or failing that an Oxford
    head box (``face_boxes``), each replaced by its face crop at ``size`` px; photos with
    neither (and the dogs) are left out."""
    boxes, heads = face_boxes(root, log=log, progress=progress)
    _, src = _oxford_source(root)
    key = hashlib.sha256(json.dumps(
        [sorted((k, v) for k, v in boxes.items()), size, margin]).encode()).hexdigest()[:16]
    out = crop_path(root, size, margin)
    ref = cache.load(root, "oxford", size, mmap=True)
    keep = [i for i, n in enumerate(ref.names) if boxes.get(n) is not None]
    crops = _cached_array(out, key)
    if crops is None:
        log(f"cutting {len(keep)} face crops ({heads} from Oxford head boxes; margin "
            f"{margin:g}, {size} px) -> {out}")
        crops = np.zeros((len(keep), size, size, 3), np.uint8)
        for j, i in enumerate(keep):
            box = boxes[ref.names[i]]
            assert box is not None
            crops[j] = face_crop(open_rgb(src / "images" / f"{ref.names[i]}.jpg"), box, margin,
                                 size)
        _save_array(out, crops, {"fingerprint": key, "margin": margin, "size": size,
                                 "count": len(crops), "of_cats": len(boxes)})
    idx = np.array(keep, dtype=np.int64)
    return cache.CachedSet(crops, ref.labels[idx], ref.splits[idx],
                           [ref.names[i] for i in keep], "oxford")


def views_path(root: Path, size: int, margin: float, count: int) -> Path:
    crops = crop_path(root, size, margin)
    return crops.with_name(f"{crops.name}-views{count}")


def load_face_views(root: Path, names: Sequence[str], size: int, margin: float, count: int,
                    zoom: float, shift: float, *, log: Callable[[str], None] = print
                    ) -> np.ndarray:
    """(len(names), count, size, size, 3) uint8: ``count`` framings of each named Oxford cat's
    face (``view_square``), each cut from the photo itself and scaled down once, so that a view
    holds pixels the fixed crop and its jitter never show. Cut once, kept beside the face
    crops."""
    boxes, _ = face_boxes(root, log=log)
    missing = [n for n in names if boxes.get(n) is None]
    if missing:
        raise FaceCropError(f"{len(missing)} of the photos asked for views have no face box "
                            f"(e.g. {missing[0]})")
    _, src = _oxford_source(root)
    key = hashlib.sha256(json.dumps(
        [VIEWS_VERSION, [(n, boxes[n]) for n in names], size, margin, count, zoom, shift]
    ).encode()).hexdigest()[:16]
    out = views_path(root, size, margin, count)
    views = _cached_array(out, key)
    if views is None:
        log(f"cutting {count} views of each of {len(names)} cat faces (margin {margin:g} "
            f"scaled by up to {1 + zoom:g}x, moved by up to {shift:g} of the side; {size} px) "
            f"-> {out}")
        views = np.zeros((len(names), count, size, size, 3), np.uint8)
        for i, name in enumerate(names):
            box = boxes[name]
            assert box is not None
            im = open_rgb(src / "images" / f"{name}.jpg")
            for v in range(count):
                views[i, v] = cut_square(
                    im, view_square(im.size, box, margin, name, v, zoom, shift), size)
        _save_array(out, views, {"fingerprint": key, "margin": margin, "size": size,
                                 "views": count, "zoom": zoom, "shift": shift,
                                 "count": len(names)})
    return views
