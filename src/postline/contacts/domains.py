"""Internationalised domain names in the one form DNS and SMTP use.

A domain can be written in Unicode (``bücher.example``), in its ASCII form
(``xn--bcher-kva.example``) or in any mix of case; all of them name the same
mail domain. ``ascii_domain`` turns each into that ASCII form in lower case,
so an address is stored, matched and stop-listed once whatever its spelling.

Unicode labels go through IDNA 2003 (Python's ``idna`` codec: nameprep, then
punycode), which folds case and full-width letters (``BÜCHER`` becomes
``bücher``). For four characters IDNA 2003 and IDNA 2008 disagree: 2003 maps
the sharp s ``ß`` to ``ss`` and the final sigma to a plain sigma, and drops
the zero-width joiners, while registries that follow 2008 register names
holding them as names of their own. A Unicode label holding one of them is
refused rather than guessed; its ``xn--`` form is accepted as given.
"""

from __future__ import annotations

from encodings import idna

ACE_PREFIX = "xn--"

# Characters whose ASCII form depends on the IDNA version (RFC 5892, UTS #46
# "deviations"), with the capital sharp s that folds to one of them.
DEVIATIONS = frozenset("ßẞς\u200c\u200d")


def ascii_domain(domain: str) -> str:
    """``domain`` with every label in its ASCII (``xn--``) form, in lower case.

    Label separators may be the full stop or the ideographic, full-width and
    half-width ones IDNA accepts; empty labels are kept, for the caller to
    judge. ``ValueError`` names the first label that is not a valid
    internationalised name.
    """
    return ".".join(_ascii_label(label) for label in idna.dots.split(domain))


def _ascii_label(label: str) -> str:
    if not label.isascii():
        return _encoded(label)

    label = label.lower()
    if label.startswith(ACE_PREFIX):
        _check_ace(label)

    return label


def _encoded(label: str) -> str:
    """A Unicode label in its ASCII form."""
    deviations = sorted(DEVIATIONS.intersection(label))
    if deviations:
        shown = " ".join(
            ch if ch.isprintable() else f"U+{ord(ch):04X}" for ch in deviations
        )
        raise ValueError(
            f"label {label!r} holds {shown}, which IDNA 2003 and IDNA 2008 encode "
            f"differently: write it in its {ACE_PREFIX} form"
        )

    try:
        return idna.ToASCII(label).decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"label {label!r} cannot be encoded: {exc}") from None


def _check_ace(label: str) -> None:
    """Refuse an ``xn--`` label that no Unicode label encodes to."""
    try:
        unicode = label.removeprefix(ACE_PREFIX).encode("ascii").decode("punycode")
    except UnicodeError:
        raise ValueError(f"label {label!r} is not valid punycode") from None

    if unicode.isascii():
        raise ValueError(f"label {label!r} encodes no Unicode characters")

    # A label in its 2008 form holds a deviation that 2003 would map away, so
    # only labels without one can be checked by encoding them again.
    if DEVIATIONS.isdisjoint(unicode) and _encoded(unicode) != label:
        raise ValueError(f"label {label!r} is not the ASCII form of {unicode!r}")
