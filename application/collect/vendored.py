"""Paths of someone else's code bundled inside a repository: not this repository's work.

Two lists, matched against the repository-relative path:
- a subset of GitHub linguist's `lib/linguist/vendor.yml` (github-linguist/linguist, MIT
  licence), the list GitHub itself uses to leave vendored files out of a repository's language
  statistics. Left out on purpose: patterns that name a project's own code as often as someone
  else's (`^tools/`, `cache/`, `*.d.ts`, `.min.js`, which the content filter judges instead);
- well-known projects that C and C++ repositories copy in whole (googletest/googlemock, Catch2,
  doctest, the SQLite amalgamation, stb, miniz): fmt's `test/gtest/` alone gave 42 % of its
  units before, 601 of them named `TEST`.
"""
from __future__ import annotations

import re

_LINGUIST_VENDOR = (
    r"(^|/)[Dd]ependencies/", r"(^|/)dist/", r"^deps/",
    r"(^|/)(configure|config\.guess|config\.sub)$", r"(^|/)(aclocal|libtool|ltoptions|ltsugar|ltversion)\.m4$",
    r"(^|/)cpplint\.py$", r"node_modules/", r"bower_components/", r"Godeps/_workspace/",
    r"third[-_]?party/", r"3rd[-_]?party/", r"(^|/)vendors?/", r"(^|/)extern(al)?/", r"(^|/)[Vv]+endor/",
    r"^debian/",
    # commonly bundled JavaScript
    r"(^|/)jquery([^.]*)\.js$", r"(^|/)jquery-ui(-\d\.\d+(\.\d+)?)?(\.\w+)?\.(js|css)$",
    r"(^|/)bootstrap([^.]*)\.(js|css|less|scss|styl)$", r"(^|/)prototype(.*)\.js$",
    r"(^|/)mootools([^.]*)\d+\.\d+\.\d+([^.]*)\.js$", r"(^|/)dojo\.js$", r"(^|/)MochiKit\.js$",
    r"(^|/)yui([^.]*)\.js$", r"(^|/)ckeditor\.js$", r"(^|/)tiny_mce([^.]*)\.js$", r"(^|/)ace-builds/",
    r"(^|/)MathJax/", r"(^|/)Chart\.js$", r"(^|/)[Cc]ode[Mm]irror/(\d+\.\d+/)?(lib|mode|theme|addon|keymap|demo)",
    r"(^|/)shCore\.js$", r"(^|/)angular([^.]*)\.js$", r"(^|/)d3(\.v\d+)?([^.]*)\.js$",
    r"(^|/)react(-[^.]*)?\.js$", r"(^|/)modernizr-\d\.\d+(\.\d+)?\.js$", r"(^|/)html5shiv\.js$",
    r"(^|/)cordova([^.]*)\.js$", r"-vsdoc\.js$", r"\.intellisense\.js$",
    # Python, Obj-C, Gradle, .NET build and packaging trees
    r"(^|/)docs?/_?(build|themes?|templates?|static)/", r"(^|/)admin_media/", r"^Carthage/", r"^Pods/",
    r"(^|/)Sparkle/", r"(^|/)gradlew(\.bat)?$", r"(^|/)gradle/wrapper/", r"^[Pp]ackages/.+\.\d+/",
)
_BUNDLED_PROJECTS = (
    r"(^|/)(googletest|googlemock|gtest|gmock)/", r"(^|/)g(mock-g)?test-all\.cc$",
    r"(^|/)catch(_amalgamated)?\.[ch]pp$", r"(^|/)doctest\.h$", r"(^|/)sqlite3(ext)?\.[ch]$",
    r"(^|/)stb_[a-z_]+\.h$", r"(^|/)miniz\.[ch]$",
)
_VENDORED = re.compile("|".join(f"(?:{p})" for p in _LINGUIST_VENDOR + _BUNDLED_PROJECTS))


def is_vendored(path: str) -> bool:
    """Whether the repository-relative `path` (posix separators) is bundled third-party code."""
    return _VENDORED.search(path) is not None
