"""Case codes (办理编号): short enough to read aloud and type on a kiosk, long enough not to be guessed.

A case code is the visitor's only key to the progress of their case, from the
kiosk or a phone, with no login: knowing it is the right to see the progress
(never a name or a phone). So it must not be guessable, and a typo must not
land on someone else's case.

- Ten characters from an alphabet of 32 without 0/O and 1/I (which people
  confuse when reading and typing): nine random ones (45 bits: with thousands
  of open cases, a guess finds one about once in several billion tries, and
  lookups are throttled) and a check character.
- The check character catches every single wrong character and every swap of
  two neighbours, so a typo is told "check the code" at once and never
  reaches the store nor counts as a failed lookup. (Luhn mod 32 would miss
  swapping the first and last letters of the alphabet, "2Z" for "Z2"; the
  check here is a polynomial over GF(32), which misses neither.)
- Shown in two groups of five, ``K7M2Q-X9HD4``; typed or scanned with or
  without the dash and spaces, in either case.

Plain Python, no I/O.
"""

from __future__ import annotations

import re
import secrets

#: The alphabet of codes: digits and capitals without 0, O, 1 and I.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#: Random characters of a code; one check character follows.
RANDOM_LENGTH = 9
LENGTH = RANDOM_LENGTH + 1
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


#: GF(32) as polynomials over GF(2) modulo x⁵ + x² + 1 (primitive): characters are its elements.
_MODULUS = 0b100101


def _times_x(value: int) -> int:
    """``value · x`` in GF(32)."""
    value <<= 1
    return value ^ _MODULUS if value & 0b100000 else value


def _remainder(text: str) -> int:
    """Σ cᵢ·x^(n−i) over the characters of ``text`` (Horner's rule; addition in GF(32) is XOR)."""
    total = 0
    for ch in text:
        total = _times_x(total) ^ _VALUE[ch]
    return total


def check_character(body: str) -> str:
    """The character that makes ``body`` + it sum to zero in GF(32) (characters of :data:`ALPHABET`).

    A single wrong character changes the sum by a non-zero element; swapping
    neighbours a, b changes it by (a − b)·xᵏ·(x − 1), non-zero unless a = b.
    """
    return ALPHABET[_times_x(_remainder(body))]


def new_code() -> str:
    """A fresh random code with its check character."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + check_character(body)


def normalize(text: str) -> str | None:
    """The code in what a visitor typed or a scanner sent, or None when it cannot be one.

    Case, spaces and dashes do not matter; a scanned link may end in the code
    (``…/case/?code=K7M2QX9HD4``). None for a wrong length, a character outside
    the alphabet, or a check character that does not match (a typo).
    """
    text = text.strip()
    for sep in ("=", "/"):
        text = text.rsplit(sep, 1)[-1]
    text = re.sub(r"[\s-]", "", text).upper()
    if len(text) != LENGTH or any(ch not in _VALUE for ch in text):
        return None
    return text if _remainder(text) == 0 else None


def shown(code: str) -> str:
    """``K7M2Q-X9HD4``: two groups of five, as printed and read aloud."""
    return f"{code[:5]}-{code[5:]}" if len(code) == LENGTH else code
