import pytest

from tinycats import breeds


def test_twelve_breeds_plus_other():
    assert len(breeds.BREEDS) == 12
    assert breeds.CLASSIFIER_LABELS[-1].key == "other"
    assert [lab.id for lab in breeds.CLASSIFIER_LABELS] == list(range(13))


def test_generator_classes_have_any_cat_and_null_but_no_other():
    keys = [c.key for c in breeds.GENERATOR_CLASSES]
    assert keys[-2:] == ["any_cat", "null"]
    assert "other" not in keys
    assert len(keys) - 1 == breeds.NULL_ID


@pytest.mark.parametrize("name", ["Maine Coon", "maine_coon", "Maine-Coon", "MAINECOON"])
def test_lenient_lookup(name):
    assert breeds.lookup(name).key == "maine_coon"


def test_unknown_breed_lists_valid_names():
    with pytest.raises(breeds.UnknownBreedError, match=r"Abyssinian.*Sphynx"):
        breeds.lookup("Tabby")


def test_oxford_names():
    assert breeds.breed_from_oxford_name("British_Shorthair_12").key == "british_shorthair"
    assert breeds.breed_from_oxford_name("american_bulldog_3") is None
    assert breeds.is_oxford_dog("american_bulldog_3")
