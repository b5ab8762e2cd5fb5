"""A request's id lives as long as the request: lines logged after it carry none."""

from __future__ import annotations

import json
import logging

from rest_framework.test import APIClient

from shieldx.logs import current_request_id


def test_a_line_logged_after_the_response_carries_no_stale_request_id(captured_logs):
    response = APIClient().get("/health", HTTP_X_REQUEST_ID="req-abc-123")
    assert response["X-Request-ID"] == "req-abc-123"
    assert current_request_id() == ""
    # What gunicorn logs when a worker stops between requests.
    logging.getLogger("gunicorn.error").info("Worker exiting (pid: 1)")
    line = json.loads(captured_logs.getvalue().strip().splitlines()[-1])
    assert line["message"] == "Worker exiting (pid: 1)"
    assert line["request_id"] == ""
