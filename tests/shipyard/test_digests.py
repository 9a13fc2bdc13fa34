import hashlib
import math

import pytest

from shipyard.digests import canonical, code_hash, document_digest, sha256


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}),
        ({"x": {"z": [1, {"q": 1, "p": 2}], "y": None}}, {"x": {"y": None, "z": [1, {"p": 2, "q": 1}]}}),
        ({"t": (1, 2)}, {"t": [1, 2]}),  # a tuple is written as the list it reads back as
    ],
)
def test_a_document_has_one_digest_whatever_its_key_order(one: dict[str, object], other: dict[str, object]) -> None:
    assert canonical(one) == canonical(other)
    assert document_digest(one) == document_digest(other)


def test_canonical_form_and_digest_format() -> None:
    assert canonical({"name": "Zoë", "n": [1, 2.5, True]}) == '{"n":[1,2.5,true],"name":"Zoë"}'.encode()
    assert document_digest({}) == "sha256:" + hashlib.sha256(b"{}").hexdigest()
    assert sha256(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_what_is_not_json_has_no_canonical_form() -> None:
    with pytest.raises(ValueError):
        canonical({"x": math.nan})
    with pytest.raises(TypeError):
        canonical({"x": {1, 2}})


def test_a_code_is_kept_as_its_hash_and_a_pasted_newline_does_not_change_it() -> None:
    assert code_hash("Xy7-abc") == code_hash(" Xy7-abc\n") == sha256(b"Xy7-abc")
    assert code_hash("Xy7-abc") != code_hash("xy7-abc")
    assert "Xy7-abc" not in code_hash("Xy7-abc")
