"""One-time meeting passcodes: every requirement Zoom can state, checked by the Zoom emulator's
own validator (:func:`calmesh.sandbox.zoom.passcodes.problems`), for a table of requirements and
for random ones."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calmesh.conferencing import generate_passcode
from calmesh.sandbox.zoom.passcodes import normalize_requirement, problems

#: Zoom's character rule for every passcode (protocols.md §3.2).
ZOOM_CHARACTERS = re.compile(r"[A-Za-z0-9@\-_*]{1,10}")
SAMPLES = 200


@pytest.mark.parametrize(
    ("requirement", "shape"),
    [
        pytest.param(None, r"\d{6}", id="none"),
        pytest.param({}, r"\d{6}", id="empty"),
        pytest.param({"length": 8}, r"\d{8}", id="length"),
        pytest.param({"length": 3}, r"\d{6}", id="short-length-still-six"),
        pytest.param({"length": 10}, r"\d{10}", id="longest"),
        pytest.param({"have_letter": True}, r"(?=.*[A-Z])(?=.*[a-z])[A-Za-z\d]{6}", id="letter"),
        pytest.param({"have_number": True}, r"\d{6}", id="number"),
        pytest.param({"have_special_character": True}, r"(?=.*[@\-_*])[\d@\-_*]{6}", id="special"),
        pytest.param({"have_upper_and_lower_characters": True}, r"(?=.*[A-Z])(?=.*[a-z])[A-Za-z\d]{6}", id="upper-lower"),
        pytest.param({"only_allow_numeric": True, "length": 9}, r"\d{9}", id="numeric"),
        pytest.param(
            {"only_allow_numeric": True, "have_letter": True, "have_special_character": True}, r"\d{6}", id="numeric-wins"
        ),
        pytest.param({"consecutive_characters_length": 4}, r"\d{6}", id="consecutive"),
        pytest.param({"weak_enhance_detection": True}, r"\d{6}", id="weak-detection"),
        pytest.param(
            {
                "length": 10,
                "have_letter": True,
                "have_number": True,
                "have_special_character": True,
                "have_upper_and_lower_characters": True,
                "consecutive_characters_length": 4,
                "weak_enhance_detection": True,
            },
            r"(?=.*[A-Z])(?=.*[a-z])(?=.*\d)(?=.*[@\-_*])[A-Za-z\d@\-_*]{10}",
            id="everything",
        ),
    ],
)
def test_each_requirement_kind_is_met(requirement: dict[str, Any] | None, shape: str) -> None:
    zoom_rules = normalize_requirement(requirement)
    made = {generate_passcode(requirement) for _ in range(SAMPLES)}
    for passcode in made:
        assert re.fullmatch(shape, passcode), passcode
        assert problems(passcode, zoom_rules) == [], passcode
    assert len(made) > SAMPLES * 0.9  # random, not a handful of fixed ones


def test_no_passcode_is_a_run_a_repeated_pattern_or_a_few_characters_repeated() -> None:
    strictest = normalize_requirement({"consecutive_characters_length": 4, "weak_enhance_detection": True})
    for _ in range(2000):
        passcode = generate_passcode(None)
        assert problems(passcode, strictest) == [], passcode
        assert len(set(passcode)) >= 4, passcode


def test_requirement_fields_zoom_might_send_oddly_are_read_safely() -> None:
    assert len(generate_passcode({"length": "8"})) == 8
    assert len(generate_passcode({"length": None, "have_letter": "yes"})) == 6
    assert len(generate_passcode({"length": 40})) == 10
    assert generate_passcode({"only_allow_numeric": True, "unknown_rule": 3}).isdigit()


requirements = st.fixed_dictionaries(
    {},
    optional={
        "length": st.integers(0, 10),
        "have_letter": st.booleans(),
        "have_number": st.booleans(),
        "have_special_character": st.booleans(),
        "only_allow_numeric": st.booleans(),
        "have_upper_and_lower_characters": st.booleans(),
        "consecutive_characters_length": st.sampled_from([0, 4, 5, 6, 7, 8]),
        "weak_enhance_detection": st.booleans(),
    },
)


@given(requirements)
def test_any_requirement_zoom_can_state_is_met(requirement: dict[str, Any]) -> None:
    zoom_rules = normalize_requirement(requirement)
    passcode = generate_passcode(zoom_rules)
    assert ZOOM_CHARACTERS.fullmatch(passcode)
    assert problems(passcode, zoom_rules) == []
