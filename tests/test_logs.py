"""Log lines never carry a credential (SPEC 10)."""

import logging

from diagnosis.logs import RedactSecrets


def test_stream_tokens_in_access_log_paths_are_blanked() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/diagnoses/x/events?access_token=abc.def&x=1", "1.1", 200),
        None,
    )
    RedactSecrets().filter(record)
    line = record.getMessage()
    assert "abc.def" not in line and "access_token=***&x=1" in line
