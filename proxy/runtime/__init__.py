"""The runtime: what assembles the service and runs it (docs/architecture.md, "Dependency direction").

`app.py` is the composition root (`create_app`, the one place proxy/ imports web/); `workers.py` starts
and stops every background worker with the app. The domain modules hold the work; only the start/stop
wiring is here, so they do not depend on aiohttp's application lifecycle.
"""
