"""A repository's licence from its LICENSE / COPYING text, as an SPDX id.

Recognised by phrases every copy of the licence carries, most specific first (AGPL before GPL,
BSD-3 before BSD-2). Permissiveness ranks licences when near-duplicates from several
repositories compete: the most permissive copy is the one kept.
"""
from __future__ import annotations

import re

LICENSE_FILE = re.compile(r"^(licen[cs]e|copying|unlicense)([.-].*)?$", re.IGNORECASE)

# (SPDX id, phrases that must all appear in the lowercased, whitespace-collapsed text)
_RULES = (
    ("AGPL-3.0", ("gnu affero general public license", "version 3")),
    ("LGPL-3.0", ("gnu lesser general public license", "version 3")),
    ("LGPL-2.1", ("gnu lesser general public license", "version 2.1")),
    ("GPL-3.0", ("gnu general public license", "version 3")),
    ("GPL-2.0", ("gnu general public license", "version 2")),
    ("MPL-2.0", ("mozilla public license", "2.0")),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "neither the name")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("MIT", ("permission is hereby granted, free of charge", "the above copyright notice")),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software",)),
    ("Unlicense", ("this is free and unencumbered software released into the public domain",)),
    ("CC0-1.0", ("creative commons", "cc0")),
    ("PSF-2.0", ("python software foundation license",)),
    ("Zlib", ("this software is provided 'as-is'", "altered source versions must be plainly marked")),
    ("BSL-1.0", ("boost software license",)),
)
# Lower is more permissive; unknown and missing licences rank last.
_PERMISSIVENESS = {
    "Unlicense": 0, "CC0-1.0": 0, "MIT": 1, "ISC": 1, "BSD-2-Clause": 1, "Zlib": 1, "BSL-1.0": 1,
    "BSD-3-Clause": 2, "Apache-2.0": 2, "PSF-2.0": 2, "MPL-2.0": 3, "LGPL-2.1": 4, "LGPL-3.0": 4,
    "GPL-2.0": 5, "GPL-3.0": 5, "AGPL-3.0": 6,
}
UNKNOWN_RANK = 9


def detect_license(text: str) -> str | None:
    """SPDX id of the licence in `text`, or None when it is none of the common ones."""
    flat = " ".join(text.lower().split())
    for spdx, phrases in _RULES:
        if all(phrase in flat for phrase in phrases):
            return spdx
    return None


def permissiveness(spdx: str | None) -> int:
    """0 for public-domain dedications up to 6 for AGPL; unknown licences rank last."""
    return _PERMISSIVENESS.get(spdx or "", UNKNOWN_RANK)


def license_allowed(spdx: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether `--licenses` keeps this licence (case-insensitive; `unknown` matches None)."""
    if not allowed:
        return True
    wanted = {name.lower() for name in allowed}
    return (spdx or "unknown").lower() in wanted
