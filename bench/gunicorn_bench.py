# gunicorn settings shared by both sides of a benchmark: no access log, default timeouts.
accesslog = None
keepalive = 5
