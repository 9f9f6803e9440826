"""The label set: the one place breed names and ids live.

Classifier labels: the 12 Oxford-IIIT Pet cat breeds (ids 0..11, alphabetical by their Oxford
file-name prefix) plus ``other`` (id 12: dogs and anything that is not a cat).

Generator classes: the same 12 breeds (same ids), then ``any_cat`` (id 12, unlabeled cat
images such as the cat-faces set) and ``null`` (id 13, the learned unconditional class used for
classifier-free guidance). Dogs are never generated, so ``other`` is not a generator class.

Everything else (trainers, exporter, CLI, and the web app through the exported manifest) reads
from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinycats.errors import TinycatsError


@dataclass(frozen=True)
class Label:
    id: int
    key: str  # stable machine name, used in manifests and JSON output
    display: str  # what a person reads
    oxford_prefix: str | None  # file-name prefix in the Oxford-IIIT Pet archive


BREEDS: tuple[Label, ...] = tuple(
    Label(i, key, display, prefix)
    for i, (key, display, prefix) in enumerate(
        [
            ("abyssinian", "Abyssinian", "Abyssinian"),
            ("bengal", "Bengal", "Bengal"),
            ("birman", "Birman", "Birman"),
            ("bombay", "Bombay", "Bombay"),
            ("british_shorthair", "British Shorthair", "British_Shorthair"),
            ("egyptian_mau", "Egyptian Mau", "Egyptian_Mau"),
            ("maine_coon", "Maine Coon", "Maine_Coon"),
            ("persian", "Persian", "Persian"),
            ("ragdoll", "Ragdoll", "Ragdoll"),
            ("russian_blue", "Russian Blue", "Russian_Blue"),
            ("siamese", "Siamese", "Siamese"),
            ("sphynx", "Sphynx", "Sphynx"),
        ]
    )
)
NUM_BREEDS = len(BREEDS)

OTHER = Label(NUM_BREEDS, "other", "Not a cat (other)", None)
#: Classifier outputs, in order: 12 breeds then ``other``.
CLASSIFIER_LABELS: tuple[Label, ...] = (*BREEDS, OTHER)
NUM_CLASSIFIER_LABELS = len(CLASSIFIER_LABELS)
OTHER_ID = OTHER.id

ANY_CAT = Label(NUM_BREEDS, "any_cat", "Any cat", None)
NULL = Label(NUM_BREEDS + 1, "null", "Unconditional (null)", None)
#: Generator class-embedding rows, in order: 12 breeds, ``any_cat``, ``null``.
GENERATOR_CLASSES: tuple[Label, ...] = (*BREEDS, ANY_CAT, NULL)
NUM_GENERATOR_CLASSES = len(GENERATOR_CLASSES)
ANY_CAT_ID = ANY_CAT.id
NULL_ID = NULL.id


def normalize_name(name: str) -> str:
    """Lenient form of a breed name: "Maine Coon", "maine_coon", "Maine-Coon" -> "mainecoon"."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_NORMALIZED: dict[str, Label] = {}
for _lab in (*CLASSIFIER_LABELS, ANY_CAT, NULL):
    for _alias in (_lab.key, _lab.display, _lab.oxford_prefix or _lab.key):
        _BY_NORMALIZED.setdefault(normalize_name(_alias), _lab)
_BY_NORMALIZED.setdefault("notacat", OTHER)
_BY_NORMALIZED.setdefault("dog", OTHER)


class UnknownBreedError(TinycatsError, ValueError):
    """A breed name that matches none of the known labels; the message lists the valid ones."""


def valid_breed_names() -> list[str]:
    return [b.display for b in BREEDS]


def lookup(name: str, *, allow: tuple[Label, ...] = CLASSIFIER_LABELS) -> Label:
    """Find a label by a leniently matched name, restricted to ``allow``.

    Raises UnknownBreedError with the list of valid names when nothing matches.
    """
    lab = _BY_NORMALIZED.get(normalize_name(name))
    if lab is None or lab not in allow:
        valid = ", ".join(label.display for label in allow)
        raise UnknownBreedError(f"unknown breed {name!r}; valid names: {valid}")
    return lab


def breed_from_oxford_name(stem: str) -> Label | None:
    """Breed of an Oxford-IIIT Pet image from its file stem, e.g. ``Maine_Coon_12``.

    Cats are named with a capitalised prefix; dogs with lower case. Returns None for dogs.
    """
    prefix = stem.rsplit("_", 1)[0]
    for b in BREEDS:
        if b.oxford_prefix == prefix:
            return b
    return None


def is_oxford_dog(stem: str) -> bool:
    """Oxford names dog images in lower case (``american_bulldog_12``), cats capitalised."""
    return stem[:1].islower()
