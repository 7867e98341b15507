"""Answers made storable at the provider boundary: whatever a platform sends, what leaves here
can be encoded as UTF-8 by every database driver and is at most `max_chars` long.

Never drops an answer: unencodable code points become U+FFFD, NUL bytes go, long text is cut
and says so. Pure functions, no I/O.
"""

import re
from dataclasses import replace

from diagnosis.providers.base import Completion

# Lone surrogates survive JSON decoding ("\ud83d" is valid JSON) but no UTF-8 encoder takes
# them: SQLite's driver raises UnicodeEncodeError, PostgreSQL rejects them. A paired surrogate
# has already been joined into one code point by the JSON decoder, so any left here is lone.
_SURROGATES = re.compile("[\ud800-\udfff]")

REPLACEMENT = "\ufffd"


def storable_text(text: str, max_chars: int) -> tuple[str, bool]:
    """(text safe to store, whether it was cut at `max_chars`)."""
    if "\x00" in text:  # PostgreSQL text cannot hold NUL; SQLite would cut the value there
        text = text.replace("\x00", "")
    text = _SURROGATES.sub(REPLACEMENT, text)
    if len(text) > max_chars:
        return text[:max_chars], True
    return text, False


def storable_completion(completion: Completion, max_chars: int) -> Completion:
    text, truncated = storable_text(completion.text, max_chars)
    if text is completion.text and not truncated:
        return completion
    return replace(completion, text=text, truncated=truncated or completion.truncated)
