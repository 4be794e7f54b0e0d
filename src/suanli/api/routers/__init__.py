"""One router per resource; each is thin: parse, call the service, shape the response."""
